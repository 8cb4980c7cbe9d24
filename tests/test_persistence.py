"""Persistence, continued training, reproducibility and global-state hygiene."""

import io
import pickle
import re
import subprocess
import sys
import textwrap

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from _helpers import ESTIMATORS, make_X, no_trimming, outputs
from sklearn.base import clone

TINY = {"hidden_layer_sizes": (4,), "max_iter": 3, "batch_size": 16, "random_state": 0}


def assert_same_outputs(a, b, X):
    expected = outputs(a, X)
    for name, values in outputs(b, X).items():
        np.testing.assert_array_equal(values, expected[name], err_msg=name)


def assert_different_outputs(a, b, X):
    assert not np.array_equal(a.transform(X), b.transform(X))


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("loss", ["mse", "vae", "denoise"])
def test_pickle_round_trip(cls, loss):
    X = make_X()
    est = cls(**TINY, loss=loss, dropout=0.1).fit(X)
    copy = pickle.loads(pickle.dumps(est))
    assert_same_outputs(est, copy, X)
    assert copy.n_iter_ == est.n_iter_
    assert copy.loss_curve_ == est.loss_curve_
    assert copy.get_params() == est.get_params()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_joblib_round_trip(cls, tmp_path):
    X = make_X()
    est = cls(**TINY).fit(X)
    joblib.dump(est, tmp_path / "model.joblib")
    assert_same_outputs(est, joblib.load(tmp_path / "model.joblib"), X)
    buffer = io.BytesIO()
    joblib.dump(est, buffer, compress=3)
    buffer.seek(0)
    assert_same_outputs(est, joblib.load(buffer), X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_unpickled_estimator_keeps_training(cls):
    X = make_X()
    est = cls(**TINY, warm_start=True).fit(X)
    copy = pickle.loads(pickle.dumps(est))
    est.fit(X)
    copy.fit(X)
    assert copy.n_iter_ == 2 * TINY["max_iter"]
    assert copy.loss_curve_ == est.loss_curve_
    assert_same_outputs(est, copy, X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pickle_unfitted(cls):
    est = pickle.loads(pickle.dumps(cls(**TINY)))
    assert not hasattr(est, "net_")
    X = make_X()
    assert_same_outputs(cls(**TINY).fit(X), est.fit(X), X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_state_dict_round_trip(cls, tmp_path):
    X = make_X()
    est = cls(**TINY).fit(X)
    path = tmp_path / "weights.pt"
    torch.save(est.net_.module_.state_dict(), path)
    state = torch.load(path, weights_only=True)
    fresh = clone(est).set_params(random_state=1).fit(X)
    assert_different_outputs(est, fresh, X)
    fresh.net_.module_.load_state_dict(state)
    if hasattr(est, "calibrate"):
        # The threshold, the error medians and the reference codes are not
        # part of the weights: calibrate derives them again from the data.
        fresh.calibrate(X)
    assert_same_outputs(est, fresh, X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clone(cls):
    X = make_X()
    unfitted = cls(**TINY, n_components=3)
    fitted = clone(unfitted).fit(X)
    for est in (unfitted, fitted):
        copy = clone(est)
        assert copy.get_params() == est.get_params()
        assert not hasattr(copy, "net_")
        assert not hasattr(copy, "n_iter_")
        assert_same_outputs(fitted, copy.fit(X), X)
    assert fitted.n_iter_ == TINY["max_iter"]  # cloning did not touch it


# -------------------------------------------------------- continued training
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warm_start_continues_training(cls):
    X = make_X()
    # Trimming restarts with every fit, so the first continued epoch would
    # see rows the last epoch did not; dropout would blur the comparison.
    params = {**TINY, "max_iter": 5, "warm_start": True, "dropout": 0.0, **no_trimming(cls)}
    est = cls(**params).fit(X)
    first = list(est.loss_curve_)
    weights = [p.detach().clone() for p in est.net_.module_.parameters()]
    est.fit(X)
    assert est.n_iter_ == 10
    assert len(est.loss_curve_) == 10
    assert est.loss_curve_[:5] == first
    assert est.loss_curve_[5] == pytest.approx(first[-1], rel=0.02)
    assert est.loss_curve_[-1] < first[-1]
    assert not all(torch.equal(a, b) for a, b in zip(weights, est.net_.module_.parameters()))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_without_warm_start_fit_starts_over(cls):
    X = make_X()
    est = cls(**TINY).fit(X)
    before = outputs(est, X)
    est.fit(X)
    assert est.n_iter_ == TINY["max_iter"]
    for name, values in outputs(est, X).items():
        np.testing.assert_array_equal(values, before[name], err_msg=name)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warm_start_applies_new_training_parameters(cls):
    X = make_X()
    est = cls(**TINY, warm_start=True).fit(X)
    est.set_params(learning_rate_init=1e-5, weight_decay=0.5, batch_size=7, kl_weight=2.0)
    est.fit(X)
    group = est.net_.optimizer_.param_groups[0]
    assert group["lr"] == 1e-5
    assert group["weight_decay"] == 0.5
    assert est.net_.get_iterator(np.zeros((40, 4)), training=True).batch_size == 7
    assert est.net_.criterion_.kl_weight == 2.0


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "param, value",
    [
        ("n_components", 1),
        ("hidden_layer_sizes", (5,)),
        ("activation", "tanh"),
        ("loss", "bce"),
        ("optimizer", "sgd"),
        ("scaling", "minmax"),
        ("dropout", 0.5),
    ],
)
def test_continuing_cannot_change_the_network(cls, param, value):
    X = make_X()
    est = cls(**TINY, warm_start=True).fit(X)
    before = outputs(est, X)
    est.set_params(**{param: value})
    match = (
        f"built with {param}=.*cannot switch to {param}={re.escape(repr(value))}.*warm_start=False"
    )
    with pytest.raises(ValueError, match=match):
        est.fit(X)
    with pytest.raises(ValueError, match=match):
        est.partial_fit(X)
    assert est.n_iter_ == TINY["max_iter"]
    for name, values in outputs(est, X).items():
        np.testing.assert_array_equal(values, before[name], err_msg=name)
    est.set_params(warm_start=False).fit(X)  # a new network is fine
    assert est.n_iter_ == TINY["max_iter"]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warm_start_rejects_other_features(cls):
    est = cls(**TINY, warm_start=True).fit(make_X())
    with pytest.raises(ValueError, match="X has 3 features, but .* expecting 4"):
        est.fit(make_X(n_features=3))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_trains_one_epoch_per_call(cls):
    X = make_X()
    est = cls(**{**TINY, "dropout": 0.0})  # dropout noise would hide 3 epochs of progress
    for call in range(1, 4):
        est.partial_fit(X)
        assert est.n_iter_ == call
        assert len(est.loss_curve_) == call
    assert est.n_features_in_ == 4
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert np.all(np.isfinite(outputs(est, X)["score_samples"]))
    est.fit(X)  # fit starts over
    assert est.n_iter_ == TINY["max_iter"]
    est.partial_fit(X)  # and partial_fit continues after fit
    assert est.n_iter_ == TINY["max_iter"] + 1


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_scales_like_fit(cls):
    """Repeating the same rows leaves the scaling statistics where fit puts them."""
    X = make_X()
    streamed = cls(**TINY)
    for _ in range(3):
        streamed.partial_fit(X)
    fitted = cls(**TINY).fit(X)
    for name in ("center_", "scale_", "error_scale_"):
        np.testing.assert_allclose(getattr(streamed, name), getattr(fitted, name), err_msg=name)
    np.testing.assert_allclose(fitted.center_, X.mean(axis=0))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_statistics_cover_every_chunk(cls):
    X = make_X(60)
    est = cls(**TINY)
    for chunk in np.array_split(X, 3):
        est.partial_fit(chunk)
    np.testing.assert_allclose(est.center_, X.mean(axis=0))
    np.testing.assert_allclose(est.error_scale_, X.std(axis=0))
    assert est.n_iter_ == 3


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_rejects_other_features(cls):
    est = cls(**TINY).partial_fit(make_X())
    with pytest.raises(ValueError, match="X has 5 features, but .* expecting 4"):
        est.partial_fit(make_X(n_features=5))
    named = cls(**TINY).partial_fit(pd.DataFrame(make_X(), columns=list("abcd")))
    with pytest.raises(ValueError, match="feature names should match"):
        named.partial_fit(pd.DataFrame(make_X(), columns=list("abce")))
    assert est.n_iter_ == named.n_iter_ == 1


# ------------------------------------------------------------ reproducibility
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"loss": "vae"},
        {"loss": "denoise", "dropout": 0.2},
        {"early_stopping": True, "validation_fraction": 0.25},
    ],
)
def test_same_random_state_same_results(cls, params):
    X = make_X()
    a = cls(**TINY, **params).fit(X)
    b = cls(**TINY, **params).fit(X)
    assert a.loss_curve_ == b.loss_curve_
    assert_same_outputs(a, b, X)
    c = cls(**TINY, **params).set_params(random_state=np.random.RandomState(0)).fit(X)
    assert_same_outputs(a, c, X)
    d = cls(**TINY, **params).set_params(random_state=1).fit(X)
    assert_different_outputs(a, d, X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_random_state_none_follows_numpy_seed(cls):
    """None draws its seed from numpy's global generator, as in scikit-learn."""
    X = make_X()
    state = np.random.get_state()  # noqa: NPY002 - the global generator is the point
    try:
        np.random.seed(0)  # noqa: NPY002
        a = cls(**{**TINY, "random_state": None}).fit(X)
        np.random.seed(0)  # noqa: NPY002
        b = cls(**{**TINY, "random_state": None}).fit(X)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    assert_same_outputs(a, b, X)


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_and_scoring_leave_global_state_alone(cls, two_threads):
    X = make_X()
    np_state = np.random.get_state()  # noqa: NPY002 - the global generator is the point
    torch_state = torch.get_rng_state()
    est = cls(**TINY, loss="denoise", dropout=0.2).fit(X)
    est.partial_fit(X)
    outputs(est, X)
    assert torch.get_num_threads() == 2
    assert torch.equal(torch.get_rng_state(), torch_state)
    after = np.random.get_state()  # noqa: NPY002
    assert after[0] == np_state[0]
    np.testing.assert_array_equal(after[1], np_state[1])
    assert after[2:] == np_state[2:]
    cls(**{**TINY, "random_state": None}).fit(X)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert torch.get_num_threads() == 2


def test_import_mutates_no_global_state():
    # What skae's dependencies do when imported is theirs, not skae's: skorch
    # imports torch_geometric (and through it transformers) where installed,
    # and those draw from Python's random generator.  So a first interpreter
    # lists, in load order, every module that importing skae loads besides
    # skae's own; a second imports those first, takes the baseline, then
    # imports skae, which then runs skae's code alone.
    listing = textwrap.dedent(
        """
        import sys
        before = set(sys.modules)
        import skae
        for name in list(sys.modules):
            if name not in before and name.partition(".")[0] != "skae":
                print(name)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", listing], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    others = result.stdout.split()
    assert {"torch", "skorch", "sklearn"} <= set(others)
    script = textwrap.dedent(
        """
        import importlib
        import random
        import sys
        import numpy as np
        import torch

        for name in sys.argv[1:]:
            importlib.import_module(name)

        def snapshot():
            return (
                torch.get_num_threads(),
                torch.get_num_interop_threads(),
                torch.get_rng_state().tolist(),
                torch.get_default_dtype(),
                torch.are_deterministic_algorithms_enabled(),
                repr(np.random.get_state()),
                random.getstate(),
                np.geterr(),
            )

        before = snapshot()
        assert "skae" not in sys.modules
        import skae
        assert snapshot() == before, "importing skae changed global state"
        print("clean")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, *others], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


def test_model_saved_from_cuda_loads_on_a_cpu_only_machine(tmp_path):
    # tests/test_gpu.py checks this with a real GPU.  Here, on any machine,
    # the pickle is written with every tensor storage tagged "cuda:0", byte for
    # byte what torch writes for tensors that live on a GPU, so loading it
    # without a map to the CPU fails (the control below).
    save = textwrap.dedent(
        f"""
        import pickle, numpy as np, torch
        from torch import serialization
        from skae import AutoencoderOutlierDetector

        X = np.random.RandomState(0).normal(size=(200, 5))
        est = AutoencoderOutlierDetector(**{TINY!r}).fit(X)
        np.save({str(tmp_path / "X.npy")!r}, X)
        np.save({str(tmp_path / "expected.npy")!r}, est.score_samples(X))
        serialization.register_package(0, lambda storage: "cuda:0", lambda obj, loc: None)
        est.set_params(device="cuda")
        est.net_.device = "cuda"
        est._built_with_["device"] = torch.device("cuda")  # as a CUDA fit records
        open({str(tmp_path / "model.pkl")!r}, "wb").write(pickle.dumps(est))
        torch.save(torch.ones(3), {str(tmp_path / "control.pt")!r})
        """
    )
    load = textwrap.dedent(
        f"""
        import pickle, warnings, numpy as np, torch
        assert not torch.cuda.is_available()
        try:
            torch.load({str(tmp_path / "control.pt")!r}, weights_only=True)
        except RuntimeError as error:
            assert "CUDA" in str(error), error
        else:
            raise AssertionError("the control tensor was not tagged as CUDA memory")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
        assert any("not available" in str(w.message) for w in caught), caught
        assert next(est.net_.module_.parameters()).device.type == "cpu"
        X = np.load({str(tmp_path / "X.npy")!r})
        np.testing.assert_array_equal(
            est.score_samples(X), np.load({str(tmp_path / "expected.npy")!r})
        )
        # What the README and the user guide say: switch to the CPU, train on.
        est.set_params(device="cpu")
        est.partial_fit(X)
        est.set_params(warm_start=True).fit(X)
        assert np.isfinite(est.score_samples(X)).all()
        print("ok")
        """
    )
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": ""}
    for script in (save, load):
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
        )
        assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
