"""AutoencoderOutlierDetector: conventions, contamination, model selection."""

import numpy as np
import pytest
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
    assert det.transform(X).shape == (len(X), 3)  # n_components defaults to n_features // 2
    assert det.inverse_transform(det.transform(X)).shape == X.shape
