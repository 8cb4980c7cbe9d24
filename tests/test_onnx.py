"""ONNX export (issue #15): ONNX Runtime scores exactly as the estimators do.

Runs where the ``onnx`` extra is installed (``pip install skae[onnx]``).
"""

import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import TinyAE
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")
skae_onnx = pytest.importorskip("skae.onnx")

FAST = {"hidden_layer_sizes": (8,), "max_iter": 5, "batch_size": 64, "random_state": 0}
DETECTOR = {**FAST, "n_estimators": 3}
LOSSES = ["mse", "bce", "mae", "huber", "sparse", "denoise", "vae"]
RTOL = 1e-5


def squared_error(y_true, y_pred):
    """A module-level callable loss, as users write them."""
    return ((y_true - y_pred) ** 2).mean()


@pytest.fixture(scope="module")
def data():
    """Correlated training rows, and test rows with a few far outliers (float32)."""
    rng = np.random.RandomState(0)
    mixing = rng.normal(size=(3, 5))
    X = rng.normal(size=(150, 3)) @ mixing + 0.1 * rng.normal(size=(150, 5)) + 2.0
    X_test = rng.normal(size=(60, 3)) @ mixing + 2.0
    X_test[:5] += 6 * rng.normal(size=(5, 5))
    return X, X_test.astype(np.float32)


@pytest.fixture
def allow_tracing():
    """Tests that use it may trace networks with torch.onnx.export."""


@pytest.fixture(autouse=True)
def written_directly(request, monkeypatch):
    """skae's own networks are written from their weights, never traced
    (tracing is slower), except in tests that use ``allow_tracing``."""
    if "allow_tracing" in request.fixturenames:
        return

    def no_tracing(g, module, *args):
        raise AssertionError(f"{type(module).__name__} was traced, not written directly")

    monkeypatch.setattr(skae_onnx, "_traced_network", no_tracing)


def session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run(model, X, name="X"):
    return [out for out in session(model).run(None, {name: X})]


def assert_detector_matches(det, model, X):
    """label, scores (decision_function) and score_samples against det's."""
    label, scores, score_samples = run(model, X)
    assert label.shape == scores.shape == score_samples.shape == (len(X), 1)
    assert label.dtype == np.int64
    expected = det.decision_function(X)
    np.testing.assert_allclose(score_samples[:, 0], det.score_samples(X), rtol=RTOL)
    # decision_function is a difference: its rounding is that of the scores.
    atol = RTOL * abs(det.offset_)
    np.testing.assert_allclose(scores[:, 0], expected, rtol=RTOL, atol=atol)
    clear = np.abs(expected) > atol  # rows not within 1e-5 of the threshold
    assert np.array_equal(label[clear, 0], det.predict(X)[clear])
    assert set(label[:, 0].tolist()) <= {-1, 1}


def assert_close(got, expected):
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=RTOL * np.max(np.abs(expected)))


def assert_transformer_matches(est, X):
    """transform (AutoencoderTransformer) and inverse_transform (both)."""
    if isinstance(est, AutoencoderTransformer):
        (codes,) = run(skl2onnx.to_onnx(est, X[:1]), X)
        assert_close(codes, est.transform(X))
    Z = est.transform(X).astype(X.dtype)
    (recon,) = run(skae_onnx.to_onnx_inverse_transform(est, dtype=X.dtype), Z, "codes")
    assert_close(recon, est.inverse_transform(Z))


def export_detector(det, X):
    return skl2onnx.to_onnx(det, X[:1], options={"score_samples": True})


@pytest.mark.parametrize("loss", [*LOSSES, squared_error])
def test_detector_matches_for_each_loss(data, loss):
    X, X_test = data
    det = AutoencoderOutlierDetector(loss=loss, **DETECTOR).fit(X)
    assert_detector_matches(det, export_detector(det, X_test), X_test)
    assert_transformer_matches(det, X_test)


@pytest.mark.parametrize("loss", [*LOSSES, squared_error])
def test_transformer_matches_for_each_loss(data, loss):
    X, X_test = data
    assert_transformer_matches(AutoencoderTransformer(loss=loss, **FAST).fit(X), X_test)


@pytest.mark.parametrize(
    "activation", ["identity", "relu", "tanh", "logistic", "elu", "gelu", "leaky_relu", "selu"]
)
def test_every_activation_and_member_widths(data, activation):
    # Two hidden layers: the members' own widths (4 to 8 and 3 to 6 units)
    # are cut out of the stacked weights on both sides of each layer.
    X, X_test = data
    params = {**DETECTOR, "hidden_layer_sizes": (8, 6), "activation": activation}
    det = AutoencoderOutlierDetector(**params).fit(X)
    assert_detector_matches(det, export_detector(det, X_test), X_test)
    tr = AutoencoderTransformer(**{**FAST, "hidden_layer_sizes": (8, 6), "activation": activation})
    assert_transformer_matches(tr.fit(X), X_test)


@pytest.mark.parametrize(
    "params",
    [
        {"n_estimators": 1},
        {"error_normalization": None},
        {"scaling": None},
        {"scaling": "minmax", "hidden_layer_sizes": ()},
        {"n_estimators": 4, "loss": "vae", "hidden_layer_sizes": (8, 4)},
    ],
)
def test_detector_settings(data, params):
    X, X_test = data
    det = AutoencoderOutlierDetector(**{**DETECTOR, **params}).fit(X)
    assert_detector_matches(det, export_detector(det, X_test), X_test)


def test_outputs_as_skl2onnx_names_isolation_forests(data):
    X, X_test = data
    det = AutoencoderOutlierDetector(**DETECTOR).fit(X)
    names = [out.name for out in skl2onnx.to_onnx(det, X_test[:1]).graph.output]
    assert names == ["label", "scores"]
    names = [out.name for out in export_detector(det, X_test).graph.output]
    assert names == ["label", "scores", "score_samples"]


def test_pipeline_scaler_detector(data):
    X, X_test = data
    pipe = make_pipeline(StandardScaler(), AutoencoderOutlierDetector(**DETECTOR)).fit(X)
    label, scores = run(skl2onnx.to_onnx(pipe, X_test[:1]), X_test)
    expected = pipe.decision_function(X_test)
    atol = RTOL * abs(pipe[-1].offset_)
    np.testing.assert_allclose(scores[:, 0], expected, rtol=RTOL, atol=atol)
    clear = np.abs(expected) > atol
    assert np.array_equal(label[clear, 0], pipe.predict(X_test)[clear])
    assert (label == -1).any()


def test_pipeline_scaler_transformer_classifier(data):
    X, X_test = data
    y = (X[:, 0] > np.median(X[:, 0])).astype(int)
    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(**FAST), LogisticRegression())
    pipe.fit(X, y)
    model = skl2onnx.to_onnx(pipe, X_test[:1], options={"zipmap": False})
    label, proba = run(model, X_test)
    assert_close(proba, pipe.predict_proba(X_test))
    margin = np.abs(pipe.decision_function(X_test)) > RTOL
    assert np.array_equal(label[margin], pipe.predict(X_test)[margin])


def test_pickled_and_reloaded_model(data):
    X, X_test = data
    det = pickle.loads(pickle.dumps(AutoencoderOutlierDetector(**DETECTOR).fit(X)))
    assert_detector_matches(det, export_detector(det, X_test), X_test)
    tr = pickle.loads(pickle.dumps(AutoencoderTransformer(**FAST).fit(X)))
    assert_transformer_matches(tr, X_test)


def test_double_input_computes_as_skae(data):
    # float64 rows: scaling in float64, the network in float32, the score
    # in float64 again, as skae does.
    X, X_test = data
    X_test = X_test.astype(np.float64)
    det = AutoencoderOutlierDetector(**DETECTOR).fit(X)
    label, scores, score_samples = run(export_detector(det, X_test), X_test)
    assert scores.dtype == score_samples.dtype == np.float64
    np.testing.assert_allclose(score_samples[:, 0], det.score_samples(X_test), rtol=1e-12)
    np.testing.assert_array_equal(label[:, 0], det.predict(X_test))
    assert_transformer_matches(AutoencoderTransformer(**FAST).fit(X), X_test)


def test_missing_values(data):
    X, X_test = data
    rng = np.random.RandomState(1)
    X_nan = X_test.copy()
    X_nan[rng.uniform(size=X_nan.shape) < 0.25] = np.nan
    X_nan[np.isnan(X_nan).all(axis=1), 0] = 1.0
    assert np.isnan(X_nan).any()
    det = AutoencoderOutlierDetector(**DETECTOR).fit(X)
    model = export_detector(det, X_nan)
    assert_detector_matches(det, model, X_nan)
    # A row with every entry missing: skae raises; the graph gives it the
    # largest error skae reports, an outlier.
    label, _, score_samples = run(model, np.full((1, X.shape[1]), np.nan, dtype=np.float32))
    assert label[0, 0] == -1
    np.testing.assert_allclose(score_samples[0, 0], -1e30, rtol=1e-7)
    tr = AutoencoderTransformer(**FAST).fit(X)
    (codes,) = run(skl2onnx.to_onnx(tr, X_nan[:1]), X_nan)
    assert_close(codes, tr.transform(X_nan))


@pytest.mark.parametrize(
    "cls, params",
    [
        (AutoencoderTransformer, {}),
        (AutoencoderOutlierDetector, {"n_estimators": 1}),
        (AutoencoderOutlierDetector, {"n_estimators": 2}),
    ],
)
def test_own_module_is_traced(data, cls, params, allow_tracing):
    X, X_test = data
    est = cls(module=TinyAE, max_iter=5, random_state=0, **params).fit(X)
    if cls is AutoencoderOutlierDetector:
        assert_detector_matches(est, export_detector(est, X_test), X_test)
    assert_transformer_matches(est, X_test)


def test_unknown_layer_in_builtin_network_is_traced(data, allow_tracing):
    # A layer the writer does not know: the network is traced instead.
    X, X_test = data
    det = AutoencoderOutlierDetector(**DETECTOR).fit(X)
    det.net_.module_.encoder[1] = nn.Softplus()
    assert_detector_matches(det, export_detector(det, X_test), X_test)
    assert_transformer_matches(det, X_test)


class CumMaxAE(nn.Module):
    """An encoder with an operator ONNX does not have (cummax)."""

    def __init__(self, n_features, n_components=2):
        super().__init__()
        self.down = nn.Linear(n_features, n_components)
        self.up = nn.Linear(n_components, n_features)

    def encode(self, x):
        return torch.cummax(self.down(x), dim=1).values

    def decode(self, z):
        return self.up(z)


class NumpyAE(CumMaxAE):
    """An encoder that leaves torch: tracing bakes the batch's mean in."""

    def encode(self, x):
        return self.down(x - torch.as_tensor(x.detach().cpu().numpy().mean(axis=0)))


def test_module_that_cannot_be_exported_is_a_clear_error(data, allow_tracing):
    X, X_test = data
    est = AutoencoderTransformer(module=CumMaxAE, max_iter=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"CumMaxAE \(module=\).*torch.onnx.export failed.*cummax"):
        skl2onnx.to_onnx(est, X_test[:1])


def test_module_traced_wrong_is_a_clear_error(data, allow_tracing):
    X, X_test = data
    est = AutoencoderTransformer(module=NumpyAE, max_iter=2, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"NumpyAE \(module=\).*does not reproduce it"):
        skl2onnx.to_onnx(est, X_test[:1])


def test_unfitted_is_an_error(data):
    _, X_test = data
    for est in (AutoencoderTransformer(), AutoencoderOutlierDetector()):
        with pytest.raises(NotFittedError):
            skl2onnx.to_onnx(est, X_test[:1])
    with pytest.raises(NotFittedError):
        skae_onnx.to_onnx_inverse_transform(AutoencoderTransformer())


def test_what_export_does_not_follow_is_named(data):
    X, X_test = data
    det = AutoencoderOutlierDetector(**DETECTOR).fit(X)
    det._columns_.quantiles = [0.1, 0.9]  # state a later skae may add
    with pytest.raises(ValueError, match=r"column map holds \['quantiles'\]"):
        skl2onnx.to_onnx(det, X_test[:1])


def test_categorical_columns_are_a_clear_error(data):
    X, _ = data
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    frame["colour"] = pd.Categorical(np.where(X[:, 0] > 0, "red", "blue"))
    det = AutoencoderOutlierDetector(**DETECTOR).fit(frame)
    with pytest.raises(ValueError, match=r"categorical columns \['colour'\].*OneHotEncoder"):
        skl2onnx.to_onnx(det, X[:1, :4].astype(np.float32))


def test_bad_input_type_and_opset(data):
    X, X_test = data
    tr = AutoencoderTransformer(**FAST).fit(X)
    with pytest.raises(TypeError, match="float or double tensor"):
        skl2onnx.to_onnx(tr, X_test[:1].astype(np.int64))
    with pytest.raises(ValueError, match="target_opset >= 13"):
        skl2onnx.to_onnx(tr, X_test[:1], target_opset=12)
    with pytest.raises(ValueError, match="dtype must be"):
        skae_onnx.to_onnx_inverse_transform(tr, dtype=np.int32)


def test_importing_skae_imports_no_onnx_package():
    code = (
        "import sys, skae; "
        "print([m for m in ('onnx', 'onnxruntime', 'skl2onnx') if m in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
