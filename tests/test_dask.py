"""skae on a real dask.distributed cluster: grid searches and streaming."""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")

TINY = {"hidden_layer_sizes": (4,), "max_iter": 3, "random_state": 0}


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's start-up chatter
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster)
    yield client
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client.close()
        cluster.close()


def test_workers_use_the_threads_they_are_given(client):
    def threads():
        import torch

        from skae._utils import thread_budget

        return torch.get_num_threads(), thread_budget()

    # Dask's nanny sets OMP_NUM_THREADS=1, and torch honours it.
    assert set(client.run(threads).values()) == {(1, 1)}


def test_grid_search_on_the_cluster_equals_a_local_one(client):
    X = np.random.RandomState(0).normal(size=(300, 5))
    grid = {"loss": ["mse", "mae", "huber", "denoise"]}
    local = GridSearchCV(AutoencoderTransformer(**TINY), grid, cv=2).fit(X)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(AutoencoderTransformer(**TINY), grid, cv=2, n_jobs=-1).fit(X)
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(remote.transform(X), local.transform(X))


def test_incremental_streams_chunks_through_partial_fit(client):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(400, 5))
    X[:8] += 6  # planted outliers
    chunks = da.from_array(X, chunks=(100, 5))
    inc = dask_ml_wrappers.Incremental(
        AutoencoderOutlierDetector(contamination=0.02, **TINY), shuffle_blocks=False
    ).fit(chunks)
    det = inc.estimator_
    assert det.n_iter_ == 4  # one epoch per chunk
    assert det._stats_.n == 400  # scaling statistics cover every chunk
    np.testing.assert_allclose(det._stats_.mean, X.mean(axis=0))
    # Same model as partial_fit on the same chunks, in the same order.
    reference = AutoencoderOutlierDetector(contamination=0.02, **TINY)
    for start in range(0, 400, 100):
        reference.partial_fit(X[start : start + 100])
    np.testing.assert_array_equal(det.score_samples(X), reference.score_samples(X))
    # offset_ after streaming comes from the last chunk; calibrate() applies
    # the contamination rule to the whole data set.
    det.calibrate(X)
    assert np.sum(det.predict(X) == -1) == pytest.approx(0.02 * 400, abs=1)
    scores = det.score_samples(X)
    assert np.all(np.isfinite(scores))
    assert scores[:8].mean() < np.median(scores)
