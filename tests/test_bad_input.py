"""Nothing silently wrong: bad input fails clearly, edge data simply works.

Every error path is checked with ``pytest.raises(..., match=...)`` for both
estimators, at fit time and at scoring time; edge data must give finite
outputs; divergence and interruption must leave a usable model or a clear
error, never NaN.
"""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _helpers import ESTIMATORS, make_X, no_trimming, outputs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import skae._net
from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from skae._validation import supported_devices

TINY = {"hidden_layer_sizes": (4,), "max_iter": 3, "batch_size": 64, "random_state": 0}
SCORING = {
    AutoencoderTransformer: ["score_samples", "score", "transform"],
    AutoencoderOutlierDetector: [
        "score_samples",
        "score",
        "transform",
        "predict",
        "decision_function",
    ],
}
SCORING_CASES = [(cls, method) for cls in ESTIMATORS for method in SCORING[cls]]


@pytest.fixture(scope="module")
def fitted():
    """One fitted instance of each estimator, on make_X()."""
    return {cls: cls(**TINY).fit(make_X()) for cls in ESTIMATORS}


def assert_finite(est, X):
    for name, values in outputs(est, X).items():
        assert np.all(np.isfinite(values)), name
    if hasattr(est, "predict"):
        assert set(np.unique(est.predict(X))) <= {-1, 1}


def with_value(X, value, where=(3, 1)):
    X = X.copy()
    X[where] = value
    return X


# --------------------------------------------------------------- NaN and inf
# NaN is a missing value (tests/test_missing.py); inf is still an error.
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_fit_rejects_inf(cls, value):
    for X in (with_value(make_X(), value), with_value(with_value(make_X(), np.nan), value, (5, 2))):
        with pytest.raises(ValueError, match="Input X contains infinity"):
            cls(**TINY).fit(X)
        with pytest.raises(ValueError, match="Input X contains infinity"):
            cls(**TINY).partial_fit(X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_accepts_nan(cls):
    X = with_value(make_X(), np.nan)
    est = cls(**TINY).fit(X)
    assert_finite(est, X)
    assert_finite(cls(**TINY).partial_fit(X), X)


@pytest.mark.parametrize("cls, method", SCORING_CASES)
@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_scoring_rejects_inf(fitted, cls, method, value):
    with pytest.raises(ValueError, match="Input X contains infinity"):
        getattr(fitted[cls], method)(with_value(make_X(), value))


@pytest.mark.parametrize("cls, method", SCORING_CASES)
def test_scoring_accepts_nan(fitted, cls, method):
    values = np.asarray(getattr(fitted[cls], method)(with_value(make_X(), np.nan)))
    assert np.all(np.isfinite(values))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_nan_in_sparse_input_is_missing(fitted, cls):
    """An explicit NaN stored in a sparse matrix is a missing entry, as in dense input."""
    dense = with_value(make_X(), np.nan)
    X = sp.csr_matrix(dense)
    est = cls(**TINY).fit(X)
    np.testing.assert_allclose(est.score_samples(X), cls(**TINY).fit(dense).score_samples(dense))
    assert np.all(np.isfinite(fitted[cls].score_samples(X)))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        fitted[cls].score_samples(sp.csr_matrix(with_value(make_X(), np.inf)))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_inverse_transform_rejects_bad_codes(fitted, cls):
    est = fitted[cls]
    codes = est.transform(make_X())
    with pytest.raises(ValueError, match="Input X contains NaN"):
        est.inverse_transform(with_value(codes, np.nan, (0, 0)))
    with pytest.raises(ValueError, match="Input X contains infinity"):
        est.inverse_transform(with_value(codes, np.inf, (0, 0)))
    with pytest.raises(ValueError, match="X holds strings"):
        est.inverse_transform(codes.astype(str))
    with pytest.raises(ValueError, match="Complex data not supported"):
        est.inverse_transform(codes + 1j)
    with pytest.raises(ValueError, match="Expected 2D array"):
        est.inverse_transform(codes[0])


# -------------------------------------------------------------------- shapes
BAD_SHAPES = [
    (np.empty((0, 4)), "0 sample"),
    (np.empty((5, 0)), "0 feature"),
    (np.arange(4.0), "Expected 2D array, got 1D array"),
    (np.zeros((5, 2, 2)), "dim 3"),
    (3.0, "Expected 2D array, got scalar"),
]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("X, match", BAD_SHAPES)
def test_fit_rejects_bad_shapes(cls, X, match):
    with pytest.raises(ValueError, match=match):
        cls(**TINY).fit(X)


@pytest.mark.parametrize("cls, method", SCORING_CASES)
@pytest.mark.parametrize("X, match", BAD_SHAPES)
def test_scoring_rejects_bad_shapes(fitted, cls, method, X, match):
    with pytest.raises(ValueError, match=match):
        getattr(fitted[cls], method)(X)


@pytest.mark.parametrize("cls, method", SCORING_CASES)
@pytest.mark.parametrize("n_features", [3, 5])
def test_scoring_rejects_wrong_number_of_features(fitted, cls, method, n_features):
    with pytest.raises(ValueError, match=f"X has {n_features} features, but .* expecting 4"):
        getattr(fitted[cls], method)(make_X(n_features=n_features))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_inverse_transform_rejects_wrong_code_width(fitted, cls):
    est = fitted[cls]
    k = est.transform(make_X()).shape[1]
    with pytest.raises(ValueError, match=f"expects codes with {k} columns") as error:
        est.inverse_transform(np.zeros((3, k + 1)))
    if cls is AutoencoderOutlierDetector:  # the members' codes side by side
        members = est.net_.module_.n_members
        assert f"n_estimators={members} codes of n_components={k // members}" in str(error.value)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "params",
    [{"hidden_layer_sizes": (10**9,)}, {"n_components": 10**9, "hidden_layer_sizes": ()}],
    ids=["hidden", "code"],
)
def test_a_network_too_big_for_memory_is_refused_before_allocating(cls, params):
    est = cls(**{**TINY, **params})
    with pytest.raises(ValueError, match=r"needs about .* GiB .* Choose smaller sizes"):
        est.fit(make_X())
    assert not hasattr(est, "net_")


def test_divergence_from_huge_noise_names_noise_level():
    est = AutoencoderTransformer(**TINY, loss="denoise", noise_level=1e30)
    with pytest.raises(ValueError, match=r"lower noise_level \(now 1e\+30"):
        est.fit(make_X())


def test_all_missing_rows_advice_fits_dataframes():
    X = pd.DataFrame({"a": [1.0, np.nan, 2.0, 3.0], "b": ["x", None, "y", "x"]})
    with pytest.raises(ValueError, match=r"X.dropna\(how='all'\)"):
        AutoencoderOutlierDetector(**TINY).fit(X)


@pytest.mark.parametrize("cls, method", SCORING_CASES)
def test_scoring_rejects_different_feature_names(cls, method):
    est = cls(**TINY).fit(pd.DataFrame(make_X(), columns=["a", "b", "c", "d"]))
    renamed = pd.DataFrame(make_X(), columns=["a", "b", "c", "e"])
    with pytest.raises(ValueError, match="feature names should match"):
        getattr(est, method)(renamed)
    reordered = pd.DataFrame(make_X(), columns=["b", "a", "c", "d"])
    with pytest.raises(ValueError, match="feature names should match"):
        getattr(est, method)(reordered)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_mixed_type_column_names_are_rejected(cls):
    X = pd.DataFrame(make_X(), columns=["a", 1, "c", 3])
    with pytest.raises(TypeError, match="all input features have string names"):
        cls(**TINY).fit(X)


# ------------------------------------------------------------ non-numeric data
def _object_frame():
    X = pd.DataFrame(make_X(), columns=["a", "b", "c", "d"])
    X["b"] = ["red", "green"] * 20
    return X


NOT_NUMBERS = [
    pytest.param(make_X().astype(str), ValueError, "X holds strings", id="numeric-strings"),
    pytest.param(np.array([["a", "b"]] * 5), ValueError, "X holds strings", id="strings"),
    pytest.param(make_X().astype(bytes), ValueError, "X holds strings", id="bytes"),
    pytest.param([["1.5", "2"], ["3", "4"]], ValueError, "X holds strings", id="list-of-strings"),
    pytest.param(_object_frame(), ValueError, "Column 'b' of X holds values that are not", id="df"),
    pytest.param(
        _object_frame().astype({"b": "category"}),
        ValueError,
        "Column 'b' of X holds values that are not numbers",
        id="categorical",
    ),
    pytest.param(
        with_value(make_X().astype(object), "x", (0, 0)),
        ValueError,
        "X holds values that are not numbers .*could not convert string",
        id="object-array",
    ),
    pytest.param(
        with_value(make_X().astype(object), {"a": 1}, (0, 0)),
        TypeError,
        "X holds values that are not numbers .*argument must be a string or a real number",
        id="object-dict",
    ),
    pytest.param(
        with_value(make_X().astype(object), 1 + 2j, (0, 0)),
        ValueError,
        "Complex data not supported: X holds complex numbers",
        id="object-complex",
    ),
    pytest.param(
        pd.DataFrame({"a": np.arange(5.0), "b": np.array([1, 2j, 3, 4, 5], dtype=object)}),
        ValueError,
        "Complex data not supported: Column 'b' of X holds complex",
        id="object-complex-column",
    ),
    pytest.param(make_X() + 1j, ValueError, "Complex data not supported: X holds complex", id="c"),
    pytest.param(
        pd.DataFrame({"a": np.arange(5.0), "b": np.arange(5.0) * 1j}),
        ValueError,
        "Complex data not supported: Column 'b' of X",
        id="complex-column",
    ),
    pytest.param(
        sp.csr_matrix(make_X() * 1j), ValueError, "Complex data not supported", id="sparse-complex"
    ),
    pytest.param(
        np.arange(8).astype("datetime64[D]").reshape(4, 2),
        ValueError,
        "X holds dates or durations",
        id="dates",
    ),
]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("X, error, match", NOT_NUMBERS)
def test_fit_rejects_values_that_are_not_numbers(cls, X, error, match):
    # categorical_features=None: no column is categorical, so a DataFrame's
    # string and category columns are not numbers either.
    with pytest.raises(error, match=match) as info:
        cls(**TINY, categorical_features=None).fit(X)
    assert "categorical_features" in str(info.value) or "real part" in str(info.value)


@pytest.mark.parametrize("cls, method", SCORING_CASES)
def test_scoring_rejects_values_that_are_not_numbers(fitted, cls, method):
    est = fitted[cls]
    with pytest.raises(ValueError, match="X holds strings"):
        getattr(est, method)(make_X().astype(str))
    with pytest.raises(ValueError, match="Complex data not supported"):
        getattr(est, method)(make_X() + 1j)
    with pytest.raises(ValueError, match="not numbers .*could not convert string"):
        getattr(est, method)(with_value(make_X().astype(object), "x", (0, 0)))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_object_arrays_of_numbers_are_numbers(cls):
    X = make_X()
    expected = outputs(cls(**TINY).fit(X), X)
    got = outputs(cls(**TINY).fit(X.astype(object)), X.astype(object))
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


# -------------------------------------------------------------- sparse input
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_input_matches_dense(cls, fmt, dtype):
    X = sp.random(40, 5, density=0.4, format=fmt, random_state=0, dtype=dtype)
    dense = X.toarray()
    from_sparse = cls(**TINY).fit(X)
    from_dense = cls(**TINY).fit(dense)
    expected = outputs(from_dense, dense)
    for est in (from_sparse, from_dense):
        for name, values in outputs(est, X).items():
            np.testing.assert_allclose(values, expected[name], rtol=1e-6, atol=1e-6, err_msg=name)
    assert from_sparse.loss_curve_ == pytest.approx(from_dense.loss_curve_, rel=1e-6)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_sparse_partial_fit_matches_dense(cls):
    X = sp.random(40, 5, density=0.4, format="csr", random_state=0)
    a, b = cls(**TINY), cls(**TINY)
    for _ in range(2):
        a.partial_fit(X)
        b.partial_fit(X.toarray())
    np.testing.assert_allclose(a.score_samples(X), b.score_samples(X.toarray()), rtol=1e-6)


# ------------------------------------------------------------------ parameters
BAD_PARAMS = [
    ("loss", "mse2"),
    ("activation", "swish"),
    ("optimizer", "lbfgs"),
    ("learning_rate_init", 0.0),
    ("learning_rate_init", -1e-3),
    ("learning_rate_init", 10.0),
    ("learning_rate_init", np.inf),
    ("learning_rate_init", np.nan),
    ("learning_rate_init", "fast"),
    ("batch_size", 0),
    ("batch_size", 2.5),
    ("max_iter", 0),
    ("n_components", 0),
    ("n_components", 1.5),
    ("dropout", 1.0),
    ("dropout", -0.1),
    ("huber_delta", 0.0),
    ("sparsity_weight", -1.0),
    ("noise_level", -1.0),
    ("kl_weight", -1.0),
    ("weight_decay", -1.0),
    ("validation_fraction", 0.0),
    ("validation_fraction", 1.0),
    ("n_iter_no_change", 0),
    ("tol", -1.0),
    ("scaling", "robust"),
    ("early_stopping", "yes"),
    ("warm_start", 1.5),
    ("device", 3),
    ("random_state", "seed"),
]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("param, value", BAD_PARAMS)
def test_invalid_parameters_are_rejected(cls, param, value):
    match = f"The '{param}' parameter of {cls.__name__} must be"
    with pytest.raises(InvalidParameterError, match=match):
        cls(**{**TINY, param: value}).fit(make_X())
    est = cls(**TINY).fit(make_X())
    est.set_params(**{param: value})
    with pytest.raises(InvalidParameterError, match=match):
        est.fit(make_X())
    assert issubclass(InvalidParameterError, ValueError)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("sizes", [(0,), (4, -1), (2.5,), ("4",)])
def test_invalid_hidden_layer_sizes(cls, sizes):
    with pytest.raises(ValueError, match="hidden_layer_sizes must be a tuple of positive integers"):
        cls(**{**TINY, "hidden_layer_sizes": sizes}).fit(make_X())


@pytest.mark.parametrize("contamination", [0.0, -0.1, 0.51, 1.0, "high"])
def test_contamination_outside_range(contamination):
    match = r"'contamination' parameter .* must be .*range \(0.0, 0.5\]"
    with pytest.raises(InvalidParameterError, match=match):
        AutoencoderOutlierDetector(contamination=contamination, **TINY).fit(make_X())
    est = AutoencoderOutlierDetector(**TINY).set_params(contamination=contamination)
    with pytest.raises(InvalidParameterError, match=match):
        est.fit(make_X())


@pytest.mark.parametrize("contamination", [0.5, 0.01, "auto"])
def test_contamination_inside_range(contamination):
    est = AutoencoderOutlierDetector(contamination=contamination, **TINY).fit(make_X())
    assert np.isfinite(est.offset_)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("device", ["gpu", "cuda:x", ""])
def test_invalid_device_string(cls, device):
    with pytest.raises(ValueError, match=f"device={device!r} is not a torch device"):
        cls(**TINY, device=device).fit(make_X())


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("device", ["cuda", "cuda:0", torch.device("cuda")])
def test_cuda_unavailable(cls, device):
    with pytest.raises(ValueError, match="CUDA is not available on this machine; this machine su"):
        cls(**TINY, device=device).fit(make_X())
    with pytest.raises(ValueError, match="CUDA is not available"):
        cls(**TINY, device=device).partial_fit(make_X())


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("device", ["mps", "xpu", "meta", "hpu", "cpu:1", "ipu"])
def test_devices_other_than_cuda_get_the_same_clear_error(cls, device):
    if device in supported_devices():
        pytest.skip(f"{device} is available here")
    # Before, torch answered: RuntimeError, AssertionError, NotImplementedError,
    # ModuleNotFoundError, or (cpu:1) nothing at all.
    with pytest.raises(ValueError, match=rf"device={device!r}.*(supports 'cpu'|use 'cpu')"):
        cls(**TINY, device=device).fit(make_X())


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_bce_without_scaling_needs_unit_interval(cls):
    X = make_X()
    with pytest.raises(ValueError, match=r"loss='bce' needs training data in \[0, 1\].*minmax"):
        cls(**TINY, loss="bce", scaling=None).fit(X)
    with pytest.raises(ValueError, match=r"loss='bce' needs training data in \[0, 1\]"):
        cls(**TINY, loss="bce", scaling="standard").fit(X)
    unit = (X - X.min()) / (X.max() - X.min())
    assert_finite(cls(**TINY, loss="bce", scaling=None).fit(unit), unit)
    assert_finite(cls(**TINY, loss="bce").fit(X), X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_scaling_none_rejects_huge_values(cls):
    with pytest.raises(ValueError, match="cannot learn with scaling=None; use scaling='standard'"):
        cls(**TINY, scaling=None).fit(make_X() * 1e9)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("factor, match", [(1e200, "too large"), (1e-200, "too small")])
def test_variance_out_of_float64_range(cls, factor, match):
    with pytest.raises(ValueError, match=f"values {match} to compute its variance"):
        cls(**TINY).fit(make_X() * factor)


@pytest.mark.parametrize("cls, method", SCORING_CASES)
def test_scoring_before_fit(cls, method):
    with pytest.raises(NotFittedError):
        getattr(cls(**TINY), method)(make_X())


# ----------------------------------------------------------------- edge data
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fewer_rows_than_batch_size_still_trains(cls):
    X = make_X(10)
    params = {"batch_size": 256, "max_iter": 20, "n_iter_no_change": 50, "learning_rate_init": 1e-2}
    # Without dropout, full-batch training descends at every step.
    est = cls(**{**TINY, **params, "dropout": 0.0}).fit(X)
    assert est.n_iter_ == 20
    assert len(est.loss_curve_) == 20
    assert est.loss_curve_[-1] < 0.9 * est.loss_curve_[0]
    assert np.all(np.diff(est.loss_curve_[:5]) < 0)
    assert_finite(est, X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_single_row(cls):
    X = make_X(1)
    est = cls(**TINY).fit(X)
    assert est.n_iter_ > 0
    assert_finite(est, X)
    assert_finite(est, make_X())
    np.testing.assert_array_equal(est.error_scale_, 1.0)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("loss", ["mse", "bce", "vae"])
def test_constant_columns(cls, loss):
    X = make_X()
    X[:, 1] = 5.0
    X[:, 3] = 0.0
    est = cls(**TINY, loss=loss).fit(X)
    assert_finite(est, X)
    assert est.error_scale_[1] == est.error_scale_[3] == 1.0
    zeros = np.zeros((10, 3))
    assert_finite(cls(**TINY, loss=loss).fit(zeros), zeros)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, bool])
def test_integer_input_is_the_same_as_float(cls, dtype):
    X = np.random.RandomState(0).randint(0, 2 if dtype is bool else 7, size=(30, 3)).astype(dtype)
    expected = outputs(cls(**TINY).fit(X.astype(np.float64)), X.astype(np.float64))
    got = outputs(cls(**TINY).fit(X), X)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_float32_input(cls):
    X = make_X()
    est = cls(**TINY).fit(X.astype(np.float32))
    got = outputs(est, X.astype(np.float32))
    expected = outputs(cls(**TINY).fit(X), X)
    for name in ("score_samples", "transform", "inverse_transform"):
        assert got[name].dtype == np.float64
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pandas_with_integer_column_names(cls):
    X = make_X()
    frame = pd.DataFrame(X, columns=[10, 11, 12, 13])
    est = cls(**TINY).fit(frame)
    assert not hasattr(est, "feature_names_in_")
    np.testing.assert_array_equal(est.score_samples(frame), cls(**TINY).fit(X).score_samples(X))
    np.testing.assert_array_equal(est.score_samples(frame), est.score_samples(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pandas_nullable_dtypes(cls):
    X = np.random.RandomState(0).randint(0, 7, size=(30, 2))
    frame = pd.DataFrame({"a": pd.array(X[:, 0], dtype="Int64"), "b": X[:, 1] > 3})
    est = cls(**TINY).fit(frame)
    assert_finite(est, frame)
    frame.loc[0, "a"] = pd.NA  # a missing value (tests/test_missing.py)
    assert_finite(est, frame)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("factor", [1e30, 1e-30])
def test_extreme_magnitudes_are_scaled_away(cls, dtype, factor):
    """Standard scaling makes the model blind to the units of X."""
    X = make_X()
    expected = outputs(cls(**TINY).fit(X), X)
    Xs = (X * factor).astype(dtype)
    got = outputs(cls(**TINY).fit(Xs), Xs)
    tol = 1e-5 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(got["score_samples"], expected["score_samples"], rtol=tol)
    np.testing.assert_allclose(got["transform"], expected["transform"], rtol=tol, atol=tol)
    np.testing.assert_allclose(
        got["inverse_transform"] / factor, expected["inverse_transform"], rtol=tol, atol=tol
    )


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("scaling", ["standard", "minmax"])
def test_float32_near_its_limit(cls, scaling):
    """Centering 3e38 in float32 would overflow; the scaling step must not."""
    X = np.sign(make_X()).astype(np.float32) * np.float32(3e38)
    est = cls(**TINY, scaling=scaling).fit(X)
    assert_finite(est, X)
    expected = cls(**TINY, scaling=scaling).fit(np.sign(make_X()))
    np.testing.assert_allclose(est.transform(X), expected.transform(np.sign(make_X())), rtol=1e-5)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_scoring_far_outside_the_training_range_is_finite(fitted, cls):
    est = fitted[cls]
    X = make_X()
    far = np.vstack([X[:2] * 1e300, X[:2] * 1e30, (X[:2] * 1e38).astype(np.float32)])
    assert_finite(est, far)
    scores = est.score_samples(far)
    assert np.all(scores < est.score_samples(X).min())


@pytest.mark.parametrize("n_components", [4, 6])
def test_n_components_at_least_n_features(n_components):
    """Allowed by design: an overcomplete code (see the transformer docstring)."""
    X = make_X()
    for cls in ESTIMATORS:
        est = cls(**TINY, n_components=n_components).fit(X)
        members = getattr(est, "n_estimators", 1)  # the detector's codes side by side
        assert est.transform(X).shape == (40, n_components * members)
        assert_finite(est, X)


# ---------------------------------------------------------------- divergence
HUGE_LR = {"optimizer": "sgd", "learning_rate_init": 9.0, "scaling": None}


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_divergence_keeps_the_last_finite_weights(cls):
    X = make_X() * 100
    with pytest.warns(ConvergenceWarning, match="diverged after 1 epoch.*learning_rate_init"):
        est = cls(**TINY, **HUGE_LR).fit(X)
    assert est.n_iter_ == len(est.loss_curve_) == 1
    assert all(torch.isfinite(p).all() for p in est.net_.module_.parameters())
    assert_finite(est, X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_divergence_in_the_first_epoch_raises(cls):
    X = make_X() * 1e5
    est = cls(**TINY, **HUGE_LR)
    with pytest.raises(ValueError, match=r"diverged.*lower learning_rate_init \(now 9\)"):
        est.fit(X)
    with pytest.raises(NotFittedError):
        est.score_samples(X)
    # A previously fitted estimator keeps its model, not half a refit.
    est = cls(**TINY).fit(X)
    before = outputs(est, X)
    est.set_params(**HUGE_LR)
    with pytest.raises(ValueError, match="learning_rate_init"):
        est.fit(X)
    for name, values in outputs(est, X).items():
        np.testing.assert_array_equal(values, before[name], err_msg=name)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("loss", ["mse", "huber", "vae", "sparse"])
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_huge_learning_rate_never_gives_nan(cls, optimizer, loss, scale):
    X = make_X() * scale
    est = cls(**TINY, optimizer=optimizer, loss=loss, learning_rate_init=9.0, scaling=None)
    try:
        est.fit(X)
    except ValueError as exc:
        assert "learning_rate_init" in str(exc)
        return
    assert est.n_iter_ == len(est.loss_curve_)
    assert np.all(np.isfinite(est.loss_curve_))
    assert all(torch.isfinite(p).all() for p in est.net_.module_.parameters())
    assert_finite(est, X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_divergence_in_warm_start_keeps_the_previous_model(cls):
    X = make_X() * 1e5
    est = cls(**{**TINY, **HUGE_LR, "learning_rate_init": 1e-12, "warm_start": True}).fit(X)
    before = est.transform(X)
    est.set_params(learning_rate_init=9.0)
    with pytest.warns(ConvergenceWarning, match="diverged after 0 epoch"):
        est.fit(X)
    assert est.n_iter_ == TINY["max_iter"]
    np.testing.assert_array_equal(est.transform(X), before)


# -------------------------------------------------------------- interruption
def interrupt_on_call(monkeypatch, n_call):
    """Make the n-th training step raise KeyboardInterrupt, as Ctrl-C would."""
    train_step = skae._net.AutoencoderNet.train_step
    calls = []

    def step(self, batch, **fit_params):
        calls.append(1)
        if len(calls) == n_call:
            raise KeyboardInterrupt
        return train_step(self, batch, **fit_params)

    monkeypatch.setattr(skae._net.AutoencoderNet, "train_step", step)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_keyboard_interrupt_keeps_the_completed_epochs(cls, monkeypatch):
    X = make_X()  # 40 rows in batches of 16: three steps per epoch
    # Trimming starts after 30 % of max_iter, so runs of different max_iter differ.
    params = {**TINY, "batch_size": 16, "max_iter": 10, **no_trimming(cls)}
    interrupt_on_call(monkeypatch, 8)  # the second step of the third epoch
    with pytest.warns(UserWarning, match="interrupted by the user after 2 epoch"):
        est = cls(**params).fit(X)
    assert est.n_iter_ == len(est.loss_curve_) == 2
    assert_finite(est, X)
    monkeypatch.undo()
    # The model is the one of the last completed epoch, not a half-trained one.
    two_epochs = cls(**{**params, "max_iter": 2}).fit(X)
    assert est.loss_curve_ == two_epochs.loss_curve_
    for name, values in outputs(two_epochs, X).items():
        np.testing.assert_array_equal(outputs(est, X)[name], values, err_msg=name)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_keyboard_interrupt_in_the_first_epoch(cls, monkeypatch):
    X = make_X()
    interrupt_on_call(monkeypatch, 2)
    with pytest.warns(UserWarning, match="interrupted by the user after 0 epoch"):
        est = cls(**{**TINY, "batch_size": 16}).fit(X)
    assert est.n_iter_ == 0
    assert est.loss_curve_ == []
    assert_finite(est, X)


def test_keyboard_interrupt_in_partial_fit(monkeypatch):
    X = make_X()
    est = AutoencoderTransformer(**{**TINY, "batch_size": 16}).partial_fit(X)
    before = est.transform(X)
    interrupt_on_call(monkeypatch, 2)
    with pytest.warns(UserWarning, match="interrupted"):
        est.partial_fit(X)
    assert est.n_iter_ == 1
    np.testing.assert_array_equal(est.transform(X), before)
