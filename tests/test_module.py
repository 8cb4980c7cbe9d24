"""Users' own torch autoencoders behind skae's API (issue #20)."""

import functools
import pickle

import numpy as np
import pytest
import torch
from _helpers import ESTIMATORS, make_X
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

FAST = {"max_iter": 4, "batch_size": 64, "random_state": 0}


class TutorialAE(nn.Module):
    """Written the way tutorials write it."""

    def __init__(self, n_features, n_components=2, width=8, dropout=0.0):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(n_features, width),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(width, n_components),
        )
        self.decoder = nn.Sequential(
            nn.Linear(n_components, width), nn.ReLU(), nn.Linear(width, n_features)
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


class MethodAE(nn.Module):
    """encode/decode methods instead of encoder/decoder attributes."""

    def __init__(self, n_features):
        super().__init__()
        self.down = nn.Linear(n_features, 3)
        self.up = nn.Linear(3, n_features)

    def encode(self, x):
        return torch.tanh(self.down(x))

    def decode(self, z):
        return self.up(z)


class VariationalAE(nn.Module):
    """encode returns (mean, log_variance)."""

    def __init__(self, n_features, n_components=2):
        super().__init__()
        self.body = nn.Linear(n_features, 2 * n_components)
        self.decoder = nn.Linear(n_components, n_features)
        self.k = n_components

    def encode(self, x):
        h = self.body(x)
        return h[:, : self.k], h[:, self.k :]

    def decode(self, z):
        return self.decoder(z)


class NoDecoder(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.encoder = nn.Linear(n_features, 2)


class WrongWidth(TutorialAE):
    def __init__(self, n_features):
        super().__init__(n_features)
        self.decoder = nn.Linear(2, n_features + 1)


class ToDouble(nn.Module):
    def forward(self, x):
        return x.double()


class DoubleOutput(TutorialAE):
    def __init__(self, n_features):
        super().__init__(n_features)
        self.decoder.append(ToDouble())


class LazyAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.LazyLinear(2)
        self.decoder = nn.Linear(2, 6)


class NoWeights(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.encoder = nn.Identity()
        self.decoder = nn.Identity()


class BatchNormAE(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, 4), nn.BatchNorm1d(4), nn.ReLU())
        self.decoder = nn.Linear(4, n_features)


class ImageCode(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_features, 4), nn.Unflatten(1, (1, 2, 2)))
        self.decoder = nn.Linear(4, n_features)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("module", [TutorialAE, MethodAE], ids=["encoder-decoder", "methods"])
def test_a_users_module_gets_the_whole_api(cls, module):
    X = make_X(200, 6)
    est = cls(module=module, **FAST).fit(X)
    codes = est.transform(X)
    assert codes.shape[0] == 200
    assert est.inverse_transform(codes).shape == X.shape
    assert np.isfinite(est.score_samples(X)).all()
    if cls is AutoencoderOutlierDetector:
        assert set(est.predict(X)) <= {-1, 1}
        assert est.feature_errors(X).shape == X.shape
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.score_samples(X), est.score_samples(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_n_features_and_n_components_are_passed_where_taken(cls):
    X = make_X(100, 5)
    est = cls(module=TutorialAE, n_components=3, **FAST).fit(X)
    member = est.net_.module_.members[0]
    assert member.encoder[0].in_features == 5
    assert member.encoder[-1].out_features == 3


def test_an_instance_is_copied_never_trained():
    X = make_X(100, 6)
    user = TutorialAE(6)
    before = {k: v.clone() for k, v in user.state_dict().items()}
    est = AutoencoderTransformer(module=user, **FAST).fit(X)
    for k, v in user.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert est.net_.module_.members[0] is not user
    twin = clone(est)
    assert twin.module is not user and isinstance(twin.module, TutorialAE)


def test_detector_members_differ():
    X = make_X(100, 6)
    det = AutoencoderOutlierDetector(module=TutorialAE(6), n_estimators=3, **FAST).fit(X)
    members = det.net_.module_.members
    assert len(members) == 3
    assert not torch.equal(members[0].encoder[0].weight, members[1].encoder[0].weight)
    assert det.error_median_.shape == (3, 6)


def test_grid_search_over_constructor_arguments_in_a_pipeline():
    X = make_X(120, 6)
    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(module=TutorialAE, **FAST))
    grid = {"autoencodertransformer__module_params": [{"width": 4}, {"width": 16}]}
    search = GridSearchCV(pipe, grid, cv=2).fit(X)
    assert search.best_params_["autoencodertransformer__module_params"] in grid[next(iter(grid))]


@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "sparse", "denoise", "bce"])
def test_every_loss_but_vae_works(loss):
    X = make_X(100, 6)
    est = AutoencoderTransformer(module=TutorialAE, loss=loss, **FAST).fit(X)
    assert np.isfinite(est.score_samples(X)).all()


def test_vae_needs_a_mean_and_a_log_variance():
    X = make_X(100, 6)
    with pytest.raises(ValueError, match=r"return a pair \(mean, log_variance\)"):
        AutoencoderTransformer(module=TutorialAE, loss="vae", **FAST).fit(X)
    vae = AutoencoderTransformer(module=VariationalAE, loss="vae", **FAST).fit(X)
    assert vae.sample(4, random_state=0).shape == (4, 6)
    plain = AutoencoderTransformer(module=TutorialAE, **FAST).fit(X)
    with pytest.raises(ValueError, match="fit with loss='vae'"):
        plain.sample(1)


def test_dropout_early_stopping_partial_fit_and_warm_start():
    X = make_X(200, 6)
    params = {**FAST, "module": TutorialAE, "module_params": {"dropout": 0.5}}
    est = AutoencoderTransformer(early_stopping=True, **params).fit(X)
    assert len(est.validation_loss_curve_) == est.n_iter_
    est = AutoencoderTransformer(**params).partial_fit(X[:100]).partial_fit(X[100:])
    assert est.n_iter_ == 2
    est = AutoencoderTransformer(warm_start=True, **params).fit(X)
    first = est.n_iter_
    assert est.fit(X).n_iter_ == 2 * first
    with pytest.raises(ValueError, match="cannot switch"):
        est.set_params(module_params={"dropout": 0.1}).fit(X)


BAD = [
    pytest.param({"module": NoDecoder}, TypeError, "has no decoder", id="no-decoder"),
    pytest.param({"module": nn.Linear(6, 6)}, TypeError, "no encoder and no decoder", id="linear"),
    pytest.param({"module": dict}, TypeError, "must be a torch.nn.Module", id="not-a-module"),
    pytest.param(
        {"module": TutorialAE, "module_params": {"wdth": 3}},
        TypeError,
        r"does not take the argument\(s\) \['wdth'\]",
        id="unknown-argument",
    ),
    pytest.param(
        {"module": TutorialAE(6), "module_params": {"width": 3}},
        TypeError,
        "module_params only applies when module is a class",
        id="params-with-instance",
    ),
    pytest.param(
        {"module": WrongWidth},
        ValueError,
        r"reconstructions of shape \(n_rows, n_features\) = \(2, 6\)",
        id="decoder-width",
    ),
    pytest.param({"module": ImageCode}, ValueError, "must return a 2-D code", id="code-not-2d"),
    pytest.param(
        {"module": DoubleOutput}, ValueError, "decoder torch.float64", id="float64-output"
    ),
    pytest.param({"module": LazyAE()}, ValueError, "lazy layers", id="lazy-layers"),
    pytest.param({"module": NoWeights}, ValueError, "has no parameters", id="no-parameters"),
    pytest.param(
        {"module": TutorialAE, "module_params": {"n_features": 5}},
        ValueError,
        r"failed on a batch of shape \(2, 6\)",
        id="encoder-fails",
    ),
]


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("params, error, match", BAD)
def test_clear_errors_before_training(cls, params, error, match):
    est = cls(**FAST, **params)
    with pytest.raises(error, match=match):
        est.fit(make_X(50, 6))
    assert not hasattr(est, "net_")


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_module_failing_in_training_is_named_with_the_fix(cls):
    # 65 rows in batches of 64 leave a 1-row batch, which BatchNorm refuses.
    est = cls(**{**FAST, "batch_size": 64}, module=BatchNormAE)
    with pytest.raises(ValueError, match=r"module BatchNormAE failed while training.*1 row"):
        est.fit(make_X(65, 6))
    assert not hasattr(est, "net_")
    est.fit(make_X(66, 6))  # no 1-row batch: it trains
    assert np.isfinite(est.score_samples(make_X(5, 6))).all()


def test_module_must_be_a_module_or_a_class():
    with pytest.raises(InvalidParameterError, match="'module' parameter"):
        AutoencoderTransformer(module="TutorialAE").fit(make_X())


class OwnParameters(nn.Module):
    """Holds its own parameters: no layer has reset_parameters()."""

    def __init__(self, n_features):
        super().__init__()
        self.down = nn.Parameter(torch.randn(n_features, 2) * 0.1)
        self.up = nn.Parameter(torch.randn(2, n_features) * 0.1)

    def encode(self, x):
        return x @ self.down

    def decode(self, z):
        return z @ self.up


def weighted_error(y_true, y_pred, power=2):
    return (y_pred - y_true).abs().pow(power).mean()


@pytest.mark.parametrize(
    "params",
    [
        {"module": TutorialAE(6)},
        {"loss": nn.L1Loss()},
        {"loss": functools.partial(weighted_error, power=3)},
        {"module": TutorialAE, "module_params": {"width": np.int64(4)}},
    ],
    ids=["module-instance", "loss-module", "partial-loss", "numpy-param"],
)
def test_warm_start_and_partial_fit_with_parameter_objects(params):
    """Continuing compares the parameters with those the network was built
    with: objects without value equality (an instance, a loss module, a
    partial) must still count as unchanged."""
    X = make_X(100, 6)
    est = AutoencoderTransformer(warm_start=True, **FAST, **params).fit(X)
    assert est.fit(X).n_iter_ == 2 * FAST["max_iter"]
    streamed = AutoencoderTransformer(**FAST, **params).partial_fit(X).partial_fit(X)
    assert streamed.n_iter_ == 2


def test_identical_copies_of_an_instance_are_refused():
    with pytest.raises(ValueError, match="would be identical.*Pass the class"):
        AutoencoderOutlierDetector(module=OwnParameters(6), n_estimators=3, **FAST).fit(
            make_X(50, 6)
        )
    det = AutoencoderOutlierDetector(module=OwnParameters, n_estimators=3, **FAST).fit(
        make_X(50, 6)
    )
    members = det.net_.module_.members
    assert not torch.equal(members[0].down, members[1].down)


def test_module_params_need_a_module():
    with pytest.raises(ValueError, match="module_params=.*module=None"):
        AutoencoderTransformer(module_params={"width": 3}, **FAST).fit(make_X())


def test_inverse_transform_leaves_the_callers_codes_alone():
    X = make_X(100, 6)
    est = AutoencoderTransformer(**FAST).fit(X)
    codes = est.transform(X[:3]).astype(np.float32)
    codes[0, 0] = 1e9
    before = codes.copy()
    est.inverse_transform(codes)
    np.testing.assert_array_equal(codes, before)
