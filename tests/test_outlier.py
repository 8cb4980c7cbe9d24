"""AutoencoderOutlierDetector: conventions, contamination, model selection."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skae import AutoencoderOutlierDetector

FAST = {"hidden_layer_sizes": (8,), "max_iter": 30, "random_state": 0}


@pytest.fixture(scope="module")
def planted():
    """300 inliers on a 2-D plane in 6-D, and 15 rows off the plane."""
    rng = np.random.RandomState(0)
    mixing = rng.normal(size=(2, 6))
    inliers = rng.normal(size=(300, 2)) @ mixing + 0.05 * rng.normal(size=(300, 6))
    outliers = rng.normal(size=(15, 2)) @ mixing + rng.choice([-3, 3], size=(15, 6))
    X = np.vstack([inliers, outliers])
    y = np.r_[np.ones(300, dtype=int), -np.ones(15, dtype=int)]
    return X, y


def test_outlier_conventions(planted):
    X, y = planted
    det = AutoencoderOutlierDetector(contamination=0.05, **FAST).fit(X)
    scores, decision, labels = det.score_samples(X), det.decision_function(X), det.predict(X)
    np.testing.assert_allclose(decision, scores - det.offset_)
    np.testing.assert_array_equal(labels, np.where(decision >= 0, 1, -1))
    assert set(np.unique(labels)) == {-1, 1}
    assert scores.dtype == np.float64
    # Outliers score lower (less normal).
    assert roc_auc_score(y, scores) > 0.95


def test_float_contamination_is_a_percentile(planted):
    X, _ = planted
    for contamination in (0.01, 0.05, 0.2):
        labels = AutoencoderOutlierDetector(contamination=contamination, **FAST).fit_predict(X)
        assert np.sum(labels == -1) == pytest.approx(contamination * len(X), abs=1)


def test_auto_contamination_finds_planted_outliers(planted):
    X, y = planted
    labels = AutoencoderOutlierDetector(contamination="auto", **FAST).fit_predict(X)
    flagged = labels == -1
    # Nearly all planted outliers flagged, and few inliers.
    assert np.mean(flagged[y == -1]) >= 0.9
    assert np.mean(flagged[y == 1]) <= 0.1


def test_grid_search_with_roc_auc(planted):
    X, y = planted
    search = GridSearchCV(
        AutoencoderOutlierDetector(**FAST),
        {"loss": ["mse", "mae", "huber"]},
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=0),
    )
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores > 0.8) & (scores <= 1))


def test_transform_gives_codes(planted):
    X, _ = planted
    det = AutoencoderOutlierDetector(**FAST).fit(X)
    # n_components defaults to n_features // 2 per member; the members' codes side by side
    assert det.transform(X).shape == (len(X), 3 * 8)
    assert det.inverse_transform(det.transform(X)).shape == X.shape


@pytest.fixture(scope="module")
def planted_column():
    """Correlated inliers; rows 0-4 break the pattern in column 3 only."""
    rng = np.random.RandomState(1)
    latent = rng.normal(size=(400, 2))
    X = latent @ rng.normal(size=(2, 6)) + 0.05 * rng.normal(size=(400, 6))
    X[:5, 3] += 6 * X[:, 3].std()
    return X


@pytest.mark.parametrize("error_normalization", [None, "median"])
def test_feature_errors_add_up_to_the_score(planted, error_normalization):
    X, _ = planted
    det = AutoencoderOutlierDetector(
        error_normalization=error_normalization, n_estimators=1, **FAST
    ).fit(X)
    errors = det.feature_errors(X)
    assert errors.shape == X.shape
    np.testing.assert_allclose(errors.mean(axis=1), -det.score_samples(X), rtol=1e-5)
    if error_normalization == "median":
        # Each feature's error is in units of its median over the training rows.
        np.testing.assert_allclose(np.median(errors, axis=0), 1.0, rtol=1e-5)
    else:
        assert det.error_median_ is None


@pytest.mark.parametrize("error_normalization", [None, "median"])
def test_feature_errors_point_at_the_planted_column(planted_column, error_normalization):
    X = planted_column
    det = AutoencoderOutlierDetector(error_normalization=error_normalization, **FAST).fit(X)
    errors = det.feature_errors(X[:5])
    np.testing.assert_array_equal(errors.argmax(axis=1), 3)


def test_feature_errors_honour_pandas_output(planted_column):
    pd = pytest.importorskip("pandas")
    columns = [f"sensor_{i}" for i in range(6)]
    frame = pd.DataFrame(planted_column, columns=columns, index=np.arange(400) + 1000)
    det = AutoencoderOutlierDetector(**FAST).fit(frame)
    assert isinstance(det.feature_errors(frame), np.ndarray)
    det.set_output(transform="pandas")
    errors = det.feature_errors(frame.iloc[:5])
    assert isinstance(errors, pd.DataFrame)
    assert list(errors.columns) == columns
    assert list(errors.index) == [1000, 1001, 1002, 1003, 1004]
    assert (errors.idxmax(axis=1) == "sensor_3").all()
    np.testing.assert_allclose(errors.mean(axis=1), -det.score_samples(frame.iloc[:5]), rtol=1e-5)
    codes = det.transform(frame)
    assert list(codes.columns) == [f"autoencoderoutlierdetector{i}" for i in range(3 * 8)]
    # Without feature names, columns are x0, x1, ...
    plain = AutoencoderOutlierDetector(**FAST).set_output(transform="pandas").fit(planted_column)
    assert list(plain.feature_errors(planted_column[:2]).columns) == [f"x{i}" for i in range(6)]


def test_max_steps_caps_the_epochs(planted):
    X, _ = planted  # 315 rows: 5 batches of 64 per epoch
    params = {**FAST, "max_iter": 100, "batch_size": 64, "n_iter_no_change": 1000}
    det = AutoencoderOutlierDetector(max_steps=20, **params).fit(X)
    assert det.n_iter_ == 4
    # The budget never adds epochs beyond max_iter, and trains at least one.
    assert (
        AutoencoderOutlierDetector(max_steps=10_000, **{**params, "max_iter": 7}).fit(X).n_iter_
        == 7
    )
    assert AutoencoderOutlierDetector(max_steps=1, **params).fit(X).n_iter_ == 1


def test_trimming_drops_the_worst_rows_and_keeps_the_data(planted):
    X, y = planted
    det = AutoencoderOutlierDetector(trim_fraction=0.2, contamination=0.05, **FAST).fit(X)
    trim = dict(det.net_.callbacks_)["trim"]
    assert trim.fraction == 0.2 and trim.after_epoch == 9  # 30 % of max_iter=30
    assert trim.dataset is None  # the training rows were restored
    assert roc_auc_score(y, det.score_samples(X)) > 0.95
    # Trimming is part of fit only; it changes the model.
    plain = AutoencoderOutlierDetector(trim_fraction=0.0, contamination=0.05, **FAST).fit(X)
    assert not np.allclose(plain.score_samples(X), det.score_samples(X))


@pytest.mark.parametrize("contamination", ["auto", 0.05])
def test_contamination_with_default_training(planted, contamination):
    """The default training setup flags the planted outliers, not the inliers."""
    X, y = planted
    det = AutoencoderOutlierDetector(contamination=contamination, random_state=0).fit(X)
    flagged = det.predict(X) == -1
    assert np.mean(flagged[y == -1]) >= 0.9
    assert np.mean(flagged[y == 1]) <= (0.05 if contamination == 0.05 else 0.1)


# ------------------------------------------------------- neighbour scoring
def test_ensemble_is_the_mean_of_its_members(planted):
    """The batched ensemble scores as its members would one by one: each
    member's per-feature errors over its own training medians, averaged."""
    X, _ = planted
    det = AutoencoderOutlierDetector(n_estimators=3, **FAST).fit(X)
    module = det.net_.module_
    assert det.error_median_.shape == (3, X.shape[1])
    z = (X - det.center_) / det.scale_
    with torch.no_grad():
        recon = module(torch.as_tensor(z, dtype=torch.float32))[0].double().numpy()
    assert recon.shape == (3, len(X), X.shape[1])
    per_member = (
        (recon - z) ** 2 * (det.scale_ / det.error_scale_) ** 2 / det.error_median_[:, None]
    )
    np.testing.assert_allclose(det.feature_errors(X), per_member.mean(axis=0), rtol=1e-4, atol=1e-6)
    # Each member's own per-feature median training error is 1.
    np.testing.assert_allclose(np.median(per_member, axis=1), 1.0, rtol=1e-3)
    # The members differ: own weights and widths.
    first = module.encoder[0].weight
    assert not torch.equal(first[0], first[1])
    widths = module.encoder[2].mask.sum(dim=-1).view(-1).tolist()
    assert widths == sorted(widths) and widths[0] < widths[-1]


def test_any_ensemble_size_detects_planted_outliers(planted):
    X, y = planted
    for n_estimators in (1, 4):
        det = AutoencoderOutlierDetector(n_estimators=n_estimators, **FAST).fit(X)
        assert roc_auc_score(y, det.score_samples(X)) > 0.95
        assert det.inverse_transform(det.transform(X)).shape == X.shape


def test_constant_training_data_flags_no_row():
    # Every training row scores the same: there is no most outlying row, and
    # the "auto" fence must not flag them all.
    X = np.ones((60, 3))
    det = AutoencoderOutlierDetector(n_estimators=2, max_iter=3, random_state=0)
    assert (det.fit_predict(X) == 1).all()
    frame = pd.DataFrame({"c": ["only"] * 60})
    assert (det.fit_predict(frame) == 1).all()


def test_member_units_apply_widths_always_and_dropout_in_training_only():
    from skae._networks import _MemberUnits

    torch.manual_seed(0)
    units = _MemberUnits([2, 3, 4], 4, dropout=0.3).train()
    h = torch.ones(3, 20000, 4)
    out = units(h)
    # Units beyond a member's width are off in every row.
    assert (out[0, :, 2:] == 0).all() and (out[1, :, 3:] == 0).all()
    inside = torch.cat([out[0, :, :2].flatten(), out[1, :, :3].flatten(), out[2].flatten()])
    # Inverted dropout: 70 % kept, each scaled by 1 / 0.7.
    assert abs((inside != 0).float().mean().item() - 0.7) < 0.01
    assert torch.unique(inside[inside != 0]).tolist() == [torch.tensor(1 / 0.7).item()]
    # Own masks for every member and row.
    assert not torch.equal(out[1, :, :2], out[2, :, :2])
    assert not torch.equal(out[2, :100], out[2, 100:200])
    # Evaluation, or no dropout: the width mask alone.
    assert torch.equal(units.eval()(h), h * units.mask)
    assert torch.equal(_MemberUnits([2, 3, 4], 4).train()(h), h * units.mask)


def test_ensembles_pickled_with_a_dropout_layer_of_their_own_still_run():
    # Before dropout joined _MemberUnits, it followed it as a _Dropout layer
    # and _MemberUnits had no rate: such pickles must load and run as then.
    import pickle

    from skae._networks import EnsembleAutoencoder, _Dropout, _MemberUnits

    module = EnsembleAutoencoder(5, 2, 3, (4,), [0.5, 0.75, 1.0], dropout=0.3)
    layers = []
    for layer in module.encoder:
        layers.append(layer)
        if isinstance(layer, _MemberUnits):
            del layer.p  # the old layer: no rate of its own
            old = _Dropout()
            old.p = 0.3
            layers.append(old)
    module.encoder = torch.nn.Sequential(*layers)
    module = pickle.loads(pickle.dumps(module))
    x = torch.randn(64, 5)
    torch.manual_seed(0)
    trained = module.train()(x)[0]
    torch.manual_seed(0)
    h = module.encoder[1](module.encoder[0](x)) * module.encoder[2].mask
    h = h * torch.rand_like(h).ge_(0.3).mul_(1 / 0.7)
    assert torch.equal(trained, module.decoder(module.encoder[4](h)))
    evaluated = module.eval()(x)[0]
    h = module.encoder[1](module.encoder[0](x)) * module.encoder[2].mask
    assert torch.equal(evaluated, module.decoder(module.encoder[4](h)))
