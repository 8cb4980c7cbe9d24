"""State is all or nothing; scoring is safe from many threads; fitted models
answer from what they were fitted with (issue #12)."""

import pickle
import threading
import warnings

import numpy as np
import pytest
import torch
from _helpers import ESTIMATORS, make_X, outputs
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

import skae._net
from skae import AutoencoderOutlierDetector, AutoencoderTransformer

TINY = {"hidden_layer_sizes": (4,), "max_iter": 3, "batch_size": 64, "random_state": 0}


def raising_loss(y_true, y_pred):
    raise RuntimeError("this loss always fails")


def nan_loss(y_true, y_pred):
    return (y_pred - y_true).sum() * float("nan")


def detached_loss(y_true, y_pred):
    return ((y_pred - y_true) ** 2).mean().detach()


def snapshot(est, X):
    """What a user can observe of an estimator: its attributes and outputs."""
    attributes = sorted(vars(est))
    try:
        return attributes, outputs(est, X)
    except NotFittedError:
        return attributes, None


def assert_unchanged(est, X, before):
    attributes, values = snapshot(est, X)
    assert attributes == before[0]
    if before[1] is None:
        assert values is None
        return
    for name, expected in before[1].items():
        np.testing.assert_array_equal(values[name], expected, err_msg=name)


# Each way a fit can fail after its parameters are valid.
FAILURES = [
    pytest.param(
        {"early_stopping": True, "validation_fraction": 0.001},
        lambda X: X * 100 + 5,
        ValueError,
        id="validation-split",
    ),
    pytest.param({"loss": "bce", "scaling": None}, lambda X: X * 100, ValueError, id="bce-range"),
    pytest.param({"device": "cuda:7"}, lambda X: X, ValueError, id="device"),
    pytest.param({"loss": raising_loss}, lambda X: X, RuntimeError, id="raising-loss"),
    pytest.param(
        {"loss": raising_loss}, lambda X: np.hstack([X, X]), RuntimeError, id="other-width"
    ),
    pytest.param({"loss": detached_loss}, lambda X: X, ValueError, id="no-gradient"),
    pytest.param({"loss": nan_loss}, lambda X: X, ValueError, id="nan-loss"),
]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("fitted", [True, False], ids=["refit", "fresh"])
@pytest.mark.parametrize("params, data, error", FAILURES)
def test_a_failed_fit_leaves_the_estimator_as_it_was(cls, fitted, params, data, error):
    X = make_X()
    est = cls(**TINY)
    if fitted:
        est.fit(X)
    before = snapshot(est, X)
    est.set_params(**params)
    with pytest.raises(error):
        est.fit(data(X))
    assert_unchanged(est, X, before)
    if not fitted:
        with pytest.raises(NotFittedError):
            est.predict(X) if hasattr(est, "predict") else est.transform(X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_failed_warm_start_leaves_the_estimator_as_it_was(cls):
    X = make_X()
    est = cls(**TINY, warm_start=True).fit(X)
    before = snapshot(est, X)
    est.set_params(loss=raising_loss)
    with pytest.raises(ValueError, match="cannot switch"):
        est.fit(X)
    est.set_params(loss="mse")
    with pytest.raises(ValueError, match="expecting 4 features"):
        est.fit(np.hstack([X, X]))
    assert_unchanged(est, X, before)


def test_ctrl_c_while_the_detector_scores_its_training_rows(monkeypatch):
    """Interrupted after training, while it sets the threshold: the previous
    state stays, so no stale or missing offset_ is ever used."""
    X = make_X()
    det = AutoencoderOutlierDetector(**TINY).fit(X)
    before = snapshot(det, X)

    def interrupted(self, X):
        raise KeyboardInterrupt

    monkeypatch.setattr(AutoencoderOutlierDetector, "_after_fit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        det.set_params(random_state=1).fit(X + 1)
    with pytest.raises(KeyboardInterrupt):
        fresh = AutoencoderOutlierDetector(**TINY)
        fresh.fit(X)
    monkeypatch.undo()
    det.set_params(random_state=0)
    assert_unchanged(det, X, before)
    with pytest.raises(NotFittedError):
        fresh.predict(X)


def test_ctrl_c_while_training_keeps_a_usable_detector(monkeypatch):
    X = make_X()
    det = AutoencoderOutlierDetector(**{**TINY, "max_iter": 5})
    original = skae._net.AutoencoderNet.run_single_epoch
    calls = []

    def interrupt_third_epoch(self, iterator, *args, **kwargs):
        calls.append(iterator is not None)  # skorch also calls it without validation data
        if sum(calls) == 3:
            raise KeyboardInterrupt
        return original(self, iterator, *args, **kwargs)

    monkeypatch.setattr(skae._net.AutoencoderNet, "run_single_epoch", interrupt_third_epoch)
    with pytest.warns(UserWarning, match="interrupted by the user after 2 epoch"):
        det.fit(X)
    monkeypatch.undo()
    assert det.n_iter_ == 2
    assert np.isfinite(det.offset_)
    assert set(det.predict(X)) <= {-1, 1}


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_rejected_partial_fit_chunk_changes_nothing(cls):
    U = np.random.RandomState(0).uniform(size=(60, 4))
    model = cls(**TINY, loss="bce", scaling=None).partial_fit(U)
    reference = cls(**TINY, loss="bce", scaling=None).partial_fit(U).partial_fit(U)
    before = snapshot(model, U)
    with pytest.raises(ValueError, match=r"needs training data in \[0, 1\]"):
        model.partial_fit(U + 1.5)
    assert_unchanged(model, U, before)
    model.partial_fit(U)  # failed forever before
    for name, values in outputs(reference, U).items():
        np.testing.assert_array_equal(outputs(model, U)[name], values, err_msg=name)

    model = cls(**TINY).partial_fit(U)
    before = snapshot(model, U)
    with pytest.raises(ValueError, match="too large"):
        model.partial_fit(np.full_like(U, 1e200))
    assert_unchanged(model, U, before)


CONCURRENT = [
    pytest.param(AutoencoderOutlierDetector, {}, id="detector-defaults"),
    pytest.param(AutoencoderOutlierDetector, {"loss": "vae"}, id="detector-vae"),
    pytest.param(AutoencoderTransformer, {"loss": "vae", "dropout": 0.5}, id="transformer-vae"),
]


@pytest.mark.parametrize("cls, params", CONCURRENT)
@pytest.mark.parametrize("pickled", [False, True], ids=["fitted", "unpickled"])
def test_scoring_from_many_threads_at_once(cls, params, pickled):
    """4 threads x 5 calls give exactly the serial results (before, one
    thread's eval/train switch turned dropout and VAE sampling on under
    another: 2 of 60 calls differed for the default detector, 14 for vae)."""
    X = np.random.RandomState(0).normal(size=(6000, 8))
    est = cls(max_iter=2, random_state=0, **params).fit(X)
    if pickled:
        est = pickle.loads(pickle.dumps(est))
    serial = est.score_samples(X), est.transform(X)
    results, errors = [], []
    start = threading.Barrier(4)

    def work():
        try:
            start.wait()
            for _ in range(5):
                results.append((est.score_samples(X), est.transform(X)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads_before = torch.get_num_threads()
    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors
    assert len(results) == 20
    for scores, codes in results:
        np.testing.assert_array_equal(scores, serial[0])
        np.testing.assert_array_equal(codes, serial[1])
    assert torch.get_num_threads() == threads_before


@pytest.mark.parametrize(
    "params",
    [
        {"n_estimators": 0},
        {"n_estimators": -3},
        {"n_estimators": 2.5},
        {"contamination": 0.0},
        {"contamination": "high"},
        {"trim_fraction": 5},
    ],
)
def test_calibrate_validates_parameters(params):
    X = make_X()
    det = AutoencoderOutlierDetector(**TINY).fit(X)
    before = snapshot(det, X)
    det.set_params(**params)
    with pytest.raises(InvalidParameterError, match=f"'{next(iter(params))}' parameter"):
        det.calibrate(X)
    det.set_params(**AutoencoderOutlierDetector(**TINY).get_params())
    assert_unchanged(det, X, before)


def test_calibrate_before_fit_is_not_fitted():
    with pytest.raises(NotFittedError):
        AutoencoderOutlierDetector().calibrate(make_X())


def test_sample_reads_the_fitted_model_not_the_parameters():
    X = make_X()
    vae = AutoencoderTransformer(**TINY, loss="vae").fit(X)
    expected = vae.sample(2, random_state=0)
    vae.set_params(n_components=3, loss="mse", hidden_layer_sizes=(0,))
    np.testing.assert_array_equal(vae.sample(2, random_state=0), expected)
    plain = AutoencoderTransformer(**TINY).fit(X)
    plain.set_params(loss="vae")
    with pytest.raises(ValueError, match="trained with loss='mse'; fit with loss='vae'"):
        plain.sample(1)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_set_params_after_fit_changes_no_output(cls):
    X = make_X()
    est = cls(**TINY).fit(X)
    before = outputs(est, X)
    names = list(est.get_feature_names_out())
    est.set_params(hidden_layer_sizes=(0,), n_components=3, loss="vae", device="meta")
    for name, values in outputs(est, X).items():
        np.testing.assert_array_equal(values, before[name], err_msg=name)
    assert list(est.get_feature_names_out()) == names


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize(
    "name", ["n_components", "max_iter", "batch_size", "n_iter_no_change", "hidden_layer_sizes"]
)
def test_booleans_are_not_sizes(cls, name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        cls(**{**TINY, name: True}).fit(make_X())


@pytest.mark.parametrize("name", ["max_steps", "n_estimators"])
def test_detector_booleans_are_not_sizes(name):
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter"):
        AutoencoderOutlierDetector(**{**TINY, name: True}).fit(make_X())


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_hidden_layer_sizes_int_is_one_layer(cls):
    est = cls(**{**TINY, "hidden_layer_sizes": 6}).fit(make_X())
    widths = [m.out_features for m in est.net_.module_.encoder if hasattr(m, "out_features")]
    assert widths[0] == 6 and len(widths) == 2


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_divergence_advice_names_the_cause(cls):
    X = make_X()
    with pytest.raises(ValueError, match="the callable loss .*nan_loss.* returned inf or NaN") as e:
        cls(**TINY, loss=nan_loss).fit(X)
    assert "learning_rate_init" not in str(e.value)
    with pytest.raises(ValueError, match=r"lower weight_decay \(now 1e\+30\)"):
        cls(**TINY, optimizer="sgd", weight_decay=1e30).fit(X)
    with pytest.raises(ValueError, match="returned a tensor without a gradient"):
        cls(**TINY, loss=detached_loss).fit(X)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_warnings_point_at_the_caller(cls):
    params = {"max_steps": None} if cls is AutoencoderOutlierDetector else {}
    with pytest.warns(ConvergenceWarning) as record:
        cls(**TINY, **params).fit(make_X())
    assert [w.filename for w in record] == [__file__]


def test_a_detector_trained_on_a_budget_does_not_warn():
    """max_steps (the default) makes training a fixed effort; reaching
    max_iter under it is no convergence problem."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        AutoencoderOutlierDetector(**TINY).fit(make_X())


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fits_in_threads_give_the_models_of_their_random_states(cls):
    # Weights, dropout masks and noise come from torch's process-wide
    # generator: fits running in threads (joblib's threading backend, dask)
    # must not interleave their draws.
    X = make_X(300, 6)
    params = {**TINY, "dropout": 0.2, "batch_size": 16}
    expected = [outputs(cls(**{**params, "random_state": s}).fit(X), X) for s in range(4)]
    results = [None] * 4

    def fit(seed):
        results[seed] = outputs(cls(**{**params, "random_state": seed}).fit(X), X)

    threads = [threading.Thread(target=fit, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for seed in range(4):
        for name, value in expected[seed].items():
            np.testing.assert_array_equal(results[seed][name], value, err_msg=f"{seed} {name}")
