"""Categorical columns (#14, points 2 and 5): one-hot in, a softmax head out.

What is pinned down here, from the outside: which columns are categorical
(``categorical_features``), what is learnt about them (``is_categorical_``,
``categories_``, ``max_categories``), how their errors are measured (the
cross-entropy of the observed category in units of the column's training
entropy, one error per original column, missing entries masked), what a
category unseen in training does (the most surprising value, never an
error), and the way back (``inverse_transform`` gives the original columns
with their dtypes).
"""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _helpers import ESTIMATORS, make_X
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

FAST = {"hidden_layer_sizes": (8,), "max_iter": 5, "batch_size": 64, "random_state": 0}
# Enough training to learn a category from numeric columns (one code unit).
# Checked on 12 seeds with the margins of the tests that use it.
TRAINED = {"n_components": 1, "max_iter": 20, "batch_size": 32, "learning_rate_init": 1e-2}

COLORS = ["blue", "green", "red"]
SIZES = ["L", "M", "S"]


def make(cls, **params):
    """A fast estimator; the detector with a two-member ensemble."""
    ensemble = {"n_estimators": 2} if cls is AutoencoderOutlierDetector else {}
    return cls(**{**FAST, **ensemble, **params})


def mixed_frame(n_samples=120, seed=0, holes=False):
    """Numeric x and y = 2x + noise, a ``category`` column that follows x and
    an ``object`` column drawn independently.  With ``holes``, entries of x,
    color and size are missing (NaN, None and pd.NA); y never is."""
    rng = np.random.RandomState(seed)
    x = rng.normal(size=n_samples)
    color = np.select([x < -0.5, x > 0.5], ["blue", "red"], "green")
    size = rng.choice(["S", "M", "L"], size=n_samples, p=[0.5, 0.3, 0.2])
    frame = pd.DataFrame(
        {
            "x": x,
            "color": pd.Categorical(color, categories=COLORS),
            "y": 2 * x + 0.3 * rng.normal(size=n_samples),
            "size": pd.Series(size, dtype=object),
        }
    )
    if holes:
        frame.loc[rng.rand(n_samples) < 0.15, "x"] = np.nan
        frame.loc[rng.rand(n_samples) < 0.15, "color"] = np.nan
        missing = np.flatnonzero(rng.rand(n_samples) < 0.2)
        for i, value in zip(missing, [None, np.nan, pd.NA] * len(missing)):
            frame.loc[i, "size"] = value
    return frame


def switch_frame(n_samples, seed):
    """x, y = x + noise, an independent noise column and a category that is
    a deterministic function of x."""
    rng = np.random.RandomState(seed)
    x = rng.normal(size=n_samples)
    return pd.DataFrame(
        {
            "x": x,
            "y": x + 0.5 * rng.normal(size=n_samples),
            "noise": rng.normal(size=n_samples),
            "c": pd.Series(np.where(x > 0, "a", "b"), dtype=object),
        }
    )


def with_level(frame, column, level):
    """``frame`` with every entry of ``column`` set to ``level``, in the
    column's dtype (a category dtype gains ``level`` if it lacks it)."""
    out = frame.copy()
    dtype = out[column].dtype
    if isinstance(dtype, pd.CategoricalDtype):
        categories = list(dtype.categories)
        categories += [] if level in categories else [level]
        out[column] = pd.Categorical([level] * len(out), categories=categories)
    else:
        out[column] = pd.Series([level] * len(out), index=out.index, dtype=dtype)
    return out


def seen(est, j):
    """The categories of the ``j``-th categorical column, as a set."""
    return set(est.categories_[j].tolist())


# ------------------------------------------------------------ parameters
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_defaults(cls):
    params = cls().get_params()
    assert params["categorical_features"] == "from_dtype"
    assert params["max_categories"] == 64


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_from_dtype_takes_category_object_and_string_columns(cls):
    rng = np.random.RandomState(0)
    n = 90
    frame = pd.DataFrame(
        {
            "f": rng.normal(size=n),
            "i": rng.randint(0, 5, size=n),
            "b": rng.rand(n) < 0.5,
            "cat": pd.Categorical(rng.choice(["p", "q"], size=n)),
            "obj": pd.Series(rng.choice(["u", "v", "w"], size=n), dtype=object),
            "s": pd.Series(rng.choice(["k", "l"], size=n), dtype=pd.StringDtype()),
        }
    )
    est = make(cls).fit(frame)
    assert isinstance(est.is_categorical_, np.ndarray)
    assert est.is_categorical_.dtype == bool
    assert est.is_categorical_.tolist() == [False, False, False, True, True, True]
    assert isinstance(est.categories_, list) and len(est.categories_) == 3
    assert all(isinstance(c, np.ndarray) for c in est.categories_)
    assert [seen(est, j) for j in range(3)] == [{"p", "q"}, {"u", "v", "w"}, {"k", "l"}]
    assert np.all(np.isfinite(est.score_samples(frame)))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_every_way_to_name_the_categorical_columns_gives_the_same_model(cls):
    frame = mixed_frame()
    reference = make(cls).fit(frame)
    assert reference.is_categorical_.tolist() == [False, True, False, True]
    assert seen(reference, 0) == set(COLORS) and seen(reference, 1) == set(SIZES)
    expected = reference.score_samples(frame)
    for features in (
        ["color", "size"],
        ["size", "color"],
        [1, 3],
        [False, True, False, True],
        np.array([False, True, False, True]),
    ):
        est = make(cls, categorical_features=features).fit(frame)
        assert est.is_categorical_.tolist() == [False, True, False, True], features
        np.testing.assert_allclose(est.score_samples(frame), expected, rtol=1e-6)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [object, pd.StringDtype()], ids=["object", "string"])
def test_a_category_column_and_the_same_strings_give_the_same_model(cls, dtype):
    frame = mixed_frame()
    # Through an object array: pandas 2.0's Categorical.astype(str) fails.
    strings = pd.Series(np.asarray(frame["color"], dtype=object), dtype=dtype)
    as_strings = frame.assign(color=strings)
    est = make(cls).fit(frame)
    other = make(cls).fit(as_strings)
    np.testing.assert_array_equal(other.is_categorical_, est.is_categorical_)
    np.testing.assert_allclose(other.score_samples(as_strings), est.score_samples(frame))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_numeric_column_can_be_declared_categorical(cls):
    rng = np.random.RandomState(0)
    x = rng.normal(size=90)
    frame = pd.DataFrame({"x": x, "k": np.digitize(x, [-0.5, 0.5]), "y": rng.normal(size=90)})
    est = make(cls, categorical_features=["k"]).fit(frame)
    assert est.is_categorical_.tolist() == [False, True, False]
    assert sorted(est.categories_[0].tolist()) == [0, 1, 2]
    unseen = frame.assign(k=7)
    assert np.all(np.isfinite(est.score_samples(unseen)))
    numeric = make(cls, categorical_features=None).fit(frame)  # the same column as numbers
    assert not numeric.is_categorical_.any()
    assert not np.allclose(numeric.score_samples(frame), est.score_samples(frame))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_none_declares_no_categorical_column(cls):
    frame = mixed_frame().drop(columns="color")
    numeric = frame.drop(columns="size")
    est = make(cls, categorical_features=None).fit(numeric)
    assert est.is_categorical_.tolist() == [False, False]
    assert est.categories_ == []
    with pytest.raises(ValueError, match="'size'"):
        make(cls, categorical_features=None).fit(frame)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_numeric_arrays_have_no_categorical_columns(cls):
    est = make(cls).fit(make_X())
    assert est.is_categorical_.dtype == bool
    assert est.is_categorical_.tolist() == [False] * 4
    assert est.categories_ == []


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "params, match",
    [
        ({"categorical_features": "bogus"}, "categorical_features"),
        ({"categorical_features": [7]}, "categorical_features"),
        ({"categorical_features": [True, False]}, "categorical_features"),
        ({"categorical_features": ["nope"]}, "nope"),
        ({"max_categories": 1}, "max_categories"),
        ({"max_categories": 0}, "max_categories"),
        ({"max_categories": 2.5}, "max_categories"),
    ],
)
def test_bad_categorical_parameters_raise(cls, params, match):
    with pytest.raises(ValueError, match=match):
        make(cls, **params).fit(mixed_frame())


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_column_names_need_a_dataframe(cls):
    with pytest.raises(ValueError, match="categorical_features"):
        make(cls, categorical_features=["a"]).fit(make_X())


# ----------------------------------------------------- errors and holes
def test_feature_errors_give_one_column_per_original_column():
    frame = mixed_frame(holes=True)
    det = make(AutoencoderOutlierDetector).fit(frame)
    errors = det.feature_errors(frame)
    assert isinstance(errors, np.ndarray) and errors.shape == (len(frame), 4)
    holes = frame.isna().to_numpy()
    assert holes[:, [0, 1, 3]].any(axis=0).all()  # holes in x, color and size
    np.testing.assert_array_equal(np.isnan(errors), holes)
    assert np.all(np.isfinite(errors[~holes])) and np.all(errors[~holes] >= 0)
    # The score is the mean over the row's observed original columns.
    np.testing.assert_allclose(-det.score_samples(frame), np.nanmean(errors, axis=1), rtol=1e-5)
    frame.index = frame.index + 1000
    table = det.set_output(transform="pandas").feature_errors(frame)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["x", "color", "y", "size"]
    assert table.index.equals(frame.index)
    np.testing.assert_array_equal(table.isna().to_numpy(), holes)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_none_nan_and_na_are_the_same_missing_category(cls):
    frame = mixed_frame(holes=True)
    est = make(cls).fit(frame)
    rows = frame.iloc[:12]
    scores = [
        est.score_samples(rows.assign(size=pd.Series([value] * len(rows), dtype=object)))
        for value in (None, np.nan, pd.NA)
    ]
    assert np.all(np.isfinite(scores[0]))
    np.testing.assert_array_equal(scores[1], scores[0])
    np.testing.assert_array_equal(scores[2], scores[0])


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_categorical_error_is_the_cross_entropy_over_the_training_entropy(cls):
    """Two fits that differ only in the frequencies of ``c`` and do not train
    (learning rate ~0, so both networks keep the same initial weights): the
    same probabilities, so the errors of ``c`` differ exactly by the ratio of
    the training entropies.  Assumes the initial weights do not depend on the
    frequencies.  Rows with x missing score by ``c`` alone."""
    x = np.random.RandomState(0).normal(size=200)
    even = np.array(["a", "b"] * 100, dtype=object)
    skewed = np.where(np.arange(200) % 10 == 0, "b", "a").astype(object)
    entropy = {
        "even": np.log(2),
        "skewed": -(0.9 * np.log(0.9) + 0.1 * np.log(0.1)),
    }
    params = {"learning_rate_init": 1e-12, "max_iter": 1, "n_components": 1}
    if cls is AutoencoderOutlierDetector:
        params.update(n_estimators=1, error_normalization=None, trim_fraction=0.0)
    probe = pd.DataFrame({"x": [np.nan, np.nan], "c": pd.Series(["a", "b"], dtype=object)})
    errors = {}
    for name, c in (("even", even), ("skewed", skewed)):
        est = make(cls, **params).fit(pd.DataFrame({"x": x, "c": c}))
        errors[name] = -est.score_samples(probe)
        if cls is AutoencoderOutlierDetector:
            table = est.feature_errors(probe)
            np.testing.assert_allclose(table[:, 1], errors[name], rtol=1e-6)
    assert np.all(np.isfinite(errors["even"])) and np.all(errors["even"] > 0)
    np.testing.assert_allclose(
        errors["even"] * entropy["even"], errors["skewed"] * entropy["skewed"], rtol=1e-3
    )


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_column_with_one_level(cls):
    frame = mixed_frame().assign(only=pd.Series(["k"] * 120, dtype=object))
    est = make(cls).fit(frame)
    assert est.is_categorical_.tolist() == [False, True, False, True, True]
    assert est.categories_[2].tolist() == ["k"]
    assert np.all(np.isfinite(est.score_samples(frame)))
    if cls is AutoencoderOutlierDetector:
        errors = est.feature_errors(frame)[:, 4]
        assert np.all(np.isfinite(errors)) and np.all(errors >= 0)
    back = est.set_output(transform="pandas").inverse_transform(est.transform(frame))
    assert (back["only"] == "k").all()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_rare_levels(cls):
    frame = mixed_frame()
    size = frame["size"].copy()
    size[5], size[40], size[41] = "XS", "XL", "XL"  # seen once, twice
    frame["size"] = size
    est = make(cls).fit(frame)
    assert seen(est, 1) == {"L", "M", "S", "XS", "XL"}
    assert np.all(np.isfinite(est.score_samples(frame)))
    assert np.all(np.isfinite(est.transform(frame)))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("kind", ["category", "object"])
def test_a_categorical_column_missing_in_every_training_row_raises(cls, kind):
    frame = mixed_frame()
    if kind == "category":
        frame["color"] = pd.Categorical([np.nan] * len(frame), categories=COLORS)
    else:
        frame["color"] = pd.Series([None] * len(frame), dtype=object)
    with pytest.raises(ValueError, match="'color'"):
        make(cls).fit(frame)
    est = make(cls)
    with pytest.raises(ValueError, match="'color'"):
        est.partial_fit(frame)
    with pytest.raises(NotFittedError):
        est.score_samples(mixed_frame())


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_failed_fit_leaves_the_fitted_estimator_unchanged(cls):
    frame = mixed_frame(holes=True)
    est = make(cls).fit(frame)
    before = est.score_samples(frame)
    categories = [c.copy() for c in est.categories_]
    bad = mixed_frame(seed=1).assign(size=pd.Series([None] * 120, dtype=object))
    with pytest.raises(ValueError, match="'size'"):
        est.fit(bad)
    np.testing.assert_array_equal(est.score_samples(frame), before)
    assert [c.tolist() for c in est.categories_] == [c.tolist() for c in categories]
    assert est.is_categorical_.tolist() == [False, True, False, True]


# ------------------------------------------------------------ unseen levels
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("column, new", [("color", "purple"), ("size", "XL")])
def test_an_unseen_category_is_the_most_surprising_value(cls, column, new):
    frame = mixed_frame()
    est = make(cls, max_iter=20).fit(frame)
    probe = frame.iloc[:30]
    levels = COLORS if column == "color" else SIZES
    variants = [with_level(probe, column, level) for level in levels]
    unseen = with_level(probe, column, new)
    scores = np.array([est.score_samples(v) for v in variants])
    unseen_scores = est.score_samples(unseen)
    assert np.all(np.isfinite(unseen_scores))
    assert np.all(np.isfinite(est.transform(unseen)))
    assert np.all(unseen_scores < scores.max(axis=0))
    assert unseen_scores.mean() < est.score_samples(probe).mean()
    if cls is AutoencoderOutlierDetector:
        j = list(frame.columns).index(column)
        known = np.array([est.feature_errors(v)[:, j] for v in variants])
        errors = est.feature_errors(unseen)[:, j]
        assert np.all(np.isfinite(errors))
        assert np.all(errors >= known.max(axis=0) * (1 - 1e-6))


# -------------------------------------------------------------- pooling
def pooled_frame():
    """Levels a-e seen 100, 40, 30, 20 and 10 times; x follows the level."""
    rng = np.random.RandomState(0)
    level = np.repeat(list("abcde"), [100, 40, 30, 20, 10])
    rng.shuffle(level)
    x = pd.Series(level).map(dict(zip("abcde", range(5)))).to_numpy() + rng.normal(size=200)
    return pd.DataFrame(
        {"x": x, "level": pd.Series(level, dtype=object), "y": rng.normal(size=200)}
    )


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_max_categories_pools_the_infrequent_levels(cls):
    frame = pooled_frame()
    rows = frame.iloc[:20]
    est = make(cls, max_categories=2).fit(frame)
    assert len(est.categories_[0]) == 5
    assert seen(est, 0) == set("abcde")
    score = {level: est.score_samples(with_level(rows, "level", level)) for level in "abcde"}
    assert all(np.all(np.isfinite(s)) for s in score.values())
    # b to e share one pooled slot: the same input and the same error.
    for level in "cde":
        np.testing.assert_allclose(score[level], score["b"], rtol=1e-6, atol=1e-9)
    assert not np.allclose(score["a"], score["b"])
    if cls is AutoencoderOutlierDetector:
        np.testing.assert_allclose(
            est.feature_errors(with_level(rows, "level", "c")),
            est.feature_errors(with_level(rows, "level", "e")),
            rtol=1e-6,
            atol=1e-9,
        )
    back = est.set_output(transform="pandas").inverse_transform(est.transform(frame))
    assert set(back["level"]) <= set("abcde")
    # Without pooling, infrequent levels are told apart.
    full = make(cls, max_categories=None).fit(frame)
    assert not np.allclose(
        full.score_samples(with_level(rows, "level", "c")),
        full.score_samples(with_level(rows, "level", "e")),
    )


# ----------------------------------------------------- transform and back
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_transform_gives_float_codes(cls):
    frame = mixed_frame(holes=True)
    est = make(cls, n_components=2).fit(frame)
    # The detector's codes are its members' codes side by side.
    width = 2 * est.n_estimators if cls is AutoencoderOutlierDetector else 2
    codes = est.transform(frame)
    assert isinstance(codes, np.ndarray) and codes.dtype == np.float64
    assert codes.shape == (len(frame), width) and np.all(np.isfinite(codes))
    table = est.set_output(transform="pandas").transform(frame)
    assert isinstance(table, pd.DataFrame) and table.shape == (len(frame), width)
    assert list(table.columns) == list(est.get_feature_names_out())
    np.testing.assert_array_equal(table.to_numpy(), codes)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_inverse_transform_gives_the_original_columns_and_dtypes(cls):
    frame = mixed_frame(holes=True)
    est = make(cls).set_output(transform="pandas").fit(frame)
    back = est.inverse_transform(est.transform(frame))
    assert isinstance(back, pd.DataFrame)
    assert list(back.columns) == list(frame.columns) and len(back) == len(frame)
    assert back["x"].dtype == np.float64 and back["y"].dtype == np.float64
    assert isinstance(back["color"].dtype, pd.CategoricalDtype)
    assert back["color"].dtype == frame["color"].dtype  # the same categories
    assert back["size"].dtype == object
    # Every entry, the missing ones included, is a seen category.
    assert set(back["color"].tolist()) <= set(COLORS)
    assert set(back["size"].tolist()) <= set(SIZES)
    assert np.all(np.isfinite(back[["x", "y"]].to_numpy()))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_inverse_transform_without_pandas_output_is_an_object_array(cls):
    frame = mixed_frame(holes=True)
    est = make(cls).fit(frame)
    back = est.inverse_transform(est.transform(frame))
    assert isinstance(back, np.ndarray) and back.dtype == object
    assert back.shape == (len(frame), 4)
    assert np.all(np.isfinite(back[:, [0, 2]].astype(np.float64)))
    assert set(back[:, 1].tolist()) <= set(COLORS)
    assert set(back[:, 3].tolist()) <= set(SIZES)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_inverse_transform_recovers_a_category_learned_from_a_number(cls):
    est = make(cls, **TRAINED).fit(switch_frame(300, seed=0))
    test = switch_frame(100, seed=10)
    back = est.inverse_transform(est.transform(test))
    assert np.mean(back[:, 3] == test["c"].to_numpy()) >= 0.9


# ------------------------------------------------------ arrays and sparse
def object_array(n_samples=80):
    """Columns x, a string category that follows x (None at row 3), y."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=n_samples)
    X = np.empty((n_samples, 3), dtype=object)
    X[:, 0] = x
    X[:, 1] = np.where(x > 0, "a", "b")
    X[:, 2] = 2 * x + 0.3 * rng.normal(size=n_samples)
    X[3, 1] = None
    return X


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_numpy_strings_need_categorical_features(cls):
    with pytest.raises(ValueError, match="categorical_features"):
        make(cls).fit(object_array())
    with pytest.raises(ValueError, match="categorical_features"):
        make(cls).fit(np.array([["a", "b"], ["c", "d"]] * 20))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_numpy_object_array_with_categorical_indices(cls):
    X = object_array()
    est = make(cls, categorical_features=[1]).fit(X)
    assert est.is_categorical_.tolist() == [False, True, False]
    assert seen(est, 0) == {"a", "b"}
    scores = est.score_samples(X)
    assert np.all(np.isfinite(scores))
    masked = make(cls, categorical_features=[False, True, False]).fit(X)
    np.testing.assert_allclose(masked.score_samples(X), scores, rtol=1e-6)
    unseen = X.copy()
    unseen[:, 1] = "z"
    assert np.all(np.isfinite(est.score_samples(unseen)))
    if cls is AutoencoderOutlierDetector:
        holes = np.isnan(est.feature_errors(X))
        assert holes[3, 1] and holes.sum() == 1
    back = est.inverse_transform(est.transform(X))
    assert back.dtype == object and back.shape == X.shape
    assert set(back[:, 1].tolist()) <= {"a", "b"}


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("features", [[0], [True, False, False, False]])
def test_sparse_input_cannot_hold_categorical_columns(cls, features):
    with pytest.raises(ValueError, match="(?i)sparse"):
        make(cls, categorical_features=features).fit(sp.csr_matrix(make_X()))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("features", ["from_dtype", None, []])
def test_sparse_input_without_categorical_columns_is_numeric(cls, features):
    X = make_X()
    X[X < 0] = 0
    dense = make(cls).fit(X)
    est = make(cls, categorical_features=features).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(
        est.score_samples(sp.csr_matrix(X)), dense.score_samples(X), rtol=1e-5
    )
    assert est.is_categorical_.tolist() == [False] * 4
    assert est.categories_ == []


# ------------------------------------------- persistence and meta-estimators
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pickle_round_trip(cls):
    frame = mixed_frame(holes=True)
    est = make(cls).fit(frame)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.score_samples(frame), est.score_samples(frame))
    np.testing.assert_array_equal(restored.transform(frame), est.transform(frame))
    np.testing.assert_array_equal(restored.is_categorical_, est.is_categorical_)
    assert [c.tolist() for c in restored.categories_] == [c.tolist() for c in est.categories_]
    codes = est.transform(frame)
    np.testing.assert_array_equal(restored.inverse_transform(codes), est.inverse_transform(codes))
    if cls is AutoencoderOutlierDetector:
        np.testing.assert_array_equal(restored.feature_errors(frame), est.feature_errors(frame))


def test_grid_search_over_a_frame_with_categories():
    frame = mixed_frame(holes=True)
    search = GridSearchCV(make(AutoencoderTransformer), {"n_components": [1, 2]}, cv=2)
    search.fit(frame)
    assert search.best_params_["n_components"] in (1, 2)
    assert np.isfinite(search.best_score_)
    best = search.best_estimator_
    assert best.is_categorical_.tolist() == [False, True, False, True]
    assert search.score(frame) == pytest.approx(np.mean(best.score_samples(frame)))


def test_grid_search_over_a_detector_in_a_pipeline():
    frame = mixed_frame(holes=True)
    pipe = Pipeline(
        [("identity", FunctionTransformer()), ("det", make(AutoencoderOutlierDetector))]
    )
    search = GridSearchCV(pipe, {"det__n_components": [1, 2]}, cv=2).fit(frame)
    assert search.best_params_["det__n_components"] in (1, 2)
    assert np.isfinite(search.best_score_)
    labels = search.best_estimator_.predict(frame)
    assert set(np.unique(labels)) <= {-1, 1}


# ------------------------------------------------------------ feature names
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_reordered_columns_raise(cls):
    frame = mixed_frame()
    est = make(cls).fit(frame)
    reordered = frame[["size", "x", "color", "y"]]
    methods = ["score_samples", "transform"]
    methods += ["feature_errors", "predict"] if cls is AutoencoderOutlierDetector else []
    for method in methods:
        with pytest.raises(ValueError, match="feature names should match"):
            getattr(est, method)(reordered)


# -------------------------------------------------------------- partial_fit
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_keeps_the_categories_of_the_first_chunk(cls):
    frame = switch_frame(180, seed=0)
    first, second = frame.iloc[:90], frame.iloc[90:].copy()
    second.loc[second.index[::3], "c"] = "c"  # a category the first chunk never saw
    est = make(cls).partial_fit(first)
    assert seen(est, 0) == {"a", "b"}
    est.partial_fit(second)
    assert seen(est, 0) == {"a", "b"}
    assert est.n_iter_ == 2
    assert all(np.isfinite(row["train_loss"]) for row in est.history_)
    assert np.all(np.isfinite(est.score_samples(second)))


# -------------------------------------------------------- pandas extension
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("string", ["string", "str"])
def test_string_dtype_and_nullable_numbers_with_na(cls, string):
    rng = np.random.RandomState(0)
    n = 100
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "i": pd.array(np.digitize(x, [-1, 0, 1]), dtype="Int64"),
            "f": pd.array(x + 0.2 * rng.normal(size=n), dtype="Float64"),
            "s": pd.Series(np.where(x > 0, "up", "down"), dtype=string),
        }
    )
    frame.loc[[2, 9], "i"] = pd.NA
    frame.loc[[4, 9], "f"] = pd.NA
    frame.loc[[6, 11], "s"] = None
    holes = frame.isna().to_numpy()
    assert holes.sum() == 6
    est = make(cls).fit(frame)
    assert est.is_categorical_.tolist() == [False, False, True]
    assert seen(est, 0) == {"up", "down"}
    assert np.all(np.isfinite(est.score_samples(frame)))
    assert np.all(np.isfinite(est.transform(frame)))
    if cls is AutoencoderOutlierDetector:
        np.testing.assert_array_equal(np.isnan(est.feature_errors(frame)), holes)
    back = est.set_output(transform="pandas").inverse_transform(est.transform(frame))
    assert back["s"].dtype == frame["s"].dtype
    assert set(back["s"].tolist()) <= {"up", "down"}


# ---------------------------------------------------------------- detection
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_swapped_category_is_detected(cls, seed):
    """c is "a" exactly when x > 0: rows whose c contradicts x are outliers."""
    est = make(cls, **TRAINED, random_state=seed).fit(switch_frame(300, seed))
    normal = switch_frame(100, seed + 100)
    swapped = normal.assign(c=normal["c"].map({"a": "b", "b": "a"}).astype(object))
    normal_scores, swapped_scores = est.score_samples(normal), est.score_samples(swapped)
    assert np.all(np.isfinite(swapped_scores))
    # Outlier scores (minus score_samples) of swapped rows are much larger ...
    assert -swapped_scores.mean() > 2 * -normal_scores.mean()
    # ... and most swapped rows score below their unswapped selves.
    assert np.mean(swapped_scores < normal_scores) >= 0.75


# ------------------------------------------------ review findings (regressions)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_table_of_categories_only_with_holes_and_new_categories(cls):
    frame = pd.DataFrame({"a": list("abcab" * 8), "b": list("xyxyz" * 8)})
    frame.iloc[0, 0] = None
    est = make(cls).fit(frame)
    assert np.isnan(est.history_[-1]["train_mse"])  # no numeric column to measure
    assert np.isfinite(est.loss_curve_).all()
    est = (
        make(cls)
        .partial_fit(frame.iloc[:10])
        .partial_fit(pd.DataFrame({"a": list("abcz"), "b": list("xyqx")}))
    )
    assert np.isfinite(est.loss_curve_).all()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_chunk_without_any_observed_number(cls):
    first = pd.DataFrame({"c": list("abab"), "x": [1.0, 2.0, 3.0, 4.0]})
    holes = pd.DataFrame({"c": list("abab"), "x": [np.nan] * 4})
    est = make(cls).partial_fit(first).partial_fit(holes)
    assert np.isfinite(est.loss_curve_).all()
    assert np.isnan(est.history_[-1]["train_mse"])


def test_the_epoch_loss_weighs_batches_by_their_observed_columns():
    # Batches of 2 rows: the first batch observes 4 user columns, the second
    # 3; the epoch's loss is the mean over those 7, whatever the batches.
    frame = pd.DataFrame({"c": list("abab"), "x": [1.0, 2.0, np.nan, 4.0]})
    untrained = {"hidden_layer_sizes": (), "max_iter": 1, "learning_rate_init": 1e-12}
    one_batch, two_batches = (
        AutoencoderTransformer(**untrained, batch_size=size, random_state=0).fit(frame)
        for size in (4, 2)
    )
    np.testing.assert_allclose(two_batches.loss_curve_[0], one_batch.loss_curve_[0], rtol=1e-5)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_models_pickled_before_categorical_columns_load(cls):
    est = make(cls).fit(make_X())
    old = pickle.loads(pickle.dumps(est))
    for name in ("categorical_features", "max_categories", "_categories_"):
        del old.__dict__[name]
    for name in ("categorical_features", "max_categories"):
        del old._built_with_[name]
    loaded = pickle.loads(pickle.dumps(old))
    repr(loaded)
    assert loaded.get_params()["categorical_features"] == "from_dtype"
    np.testing.assert_array_equal(loaded.score_samples(make_X()), est.score_samples(make_X()))
    loaded.partial_fit(make_X())  # trains on
    loaded.set_params(warm_start=True).fit(make_X())


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "before, after",
    [
        ({"categorical_features": None}, {"categorical_features": ["c"]}),
        ({"max_categories": 2}, {"max_categories": None}),
    ],
)
def test_warm_start_cannot_switch_the_categorical_columns(cls, before, after):
    frame = pd.DataFrame({"c": np.arange(40.0) % 3, "x": np.linspace(0, 1, 40)})
    est = make(cls, warm_start=True, **before).fit(frame)
    with pytest.raises(ValueError, match="warm_start=True"):
        est.set_params(**after).fit(frame)
    same = make(cls, warm_start=True, categorical_features=np.array([True, False])).fit(frame)
    same.set_params(categorical_features=np.array([True, False])).fit(frame)  # equal values


def test_the_kl_term_is_per_user_column():
    import torch

    from skae._net import RowSource

    frame = mixed_frame()  # 4 user columns, no holes
    est = AutoencoderTransformer(**FAST, loss="vae").fit(frame)
    rows = est._validate_X(frame, reset=False)
    z, observed = est._columns_.bind(RowSource(rows))(torch.as_tensor(rows))
    assert observed is None and z.shape[1] > 4  # one-hot inputs widen the network...
    criterion, module = est.net_.criterion_, est.net_.module_
    with torch.no_grad():
        output = module(z)  # evaluation mode: the posterior mean, no sampling
        criterion.kl_weight = 0.0
        plain = criterion(output, z)
        criterion.kl_weight = 1.0
        with_kl = criterion(output, z)
    _, mean, log_var = output
    kl = (-0.5 * (1 + log_var - mean**2 - log_var.exp()).sum(dim=1)).mean()
    np.testing.assert_allclose(float(with_kl - plain), float(kl) / 4, rtol=1e-4)  # ...not the KL


def test_errors_for_input_a_categorical_model_cannot_take():
    est = make(AutoencoderOutlierDetector).fit(mixed_frame())
    with pytest.raises(ValueError, match="sparse matrix, which holds numbers only"):
        est.score_samples(sp.csr_matrix(np.ones((3, 4))))
    with pytest.raises(ValueError, match="Expected 2D array, got 1D"):
        est.score_samples(np.ones(4))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_object_columns_of_numbers_with_na_are_numeric_with_holes(cls):
    frame = pd.DataFrame(
        {"s": pd.Series([1, pd.NA, 3, None] * 10, dtype=object), "x": np.arange(40.0)}
    )
    est = make(cls).fit(frame)
    assert not est.is_categorical_.any()
    assert np.isfinite(est.score(frame))


@pytest.mark.parametrize("arrow_type", ["string", "large_string", "dictionary"], ids=lambda t: t)
def test_arrow_backed_string_columns_are_categorical(arrow_type):
    pa = pytest.importorskip("pyarrow")
    types = {
        "string": pa.string(),
        "large_string": pa.large_string(),
        "dictionary": pa.dictionary(pa.int32(), pa.string()),
    }
    rng = np.random.RandomState(0)
    values = rng.choice(["x", "y", "z"], 60).tolist()
    X = pd.DataFrame(
        {
            "a": pd.array(rng.normal(size=60), dtype=pd.ArrowDtype(pa.float64())),
            "s": pd.Series(
                pa.array(values, type=types[arrow_type]), dtype=pd.ArrowDtype(types[arrow_type])
            ),
        }
    )
    est = AutoencoderOutlierDetector(**FAST).fit(X)
    assert est.is_categorical_.tolist() == [False, True]
    assert sorted(est.categories_[0]) == ["x", "y", "z"]
    assert np.isfinite(est.score_samples(X)).all()
