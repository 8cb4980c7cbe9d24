"""AutoencoderTransformer in Pipelines and grid searches."""

import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer

SIX_LOSSES = ["mse", "bce", "mae", "huber", "sparse", "denoise"]
FAST = {"hidden_layer_sizes": (8,), "max_iter": 5, "random_state": 0}


@pytest.fixture(scope="module")
def wine():
    return load_wine(return_X_y=True)


def test_pipeline_with_classifier(wine):
    X, y = wine
    pipe = make_pipeline(
        StandardScaler(),
        AutoencoderTransformer(n_components=8, **FAST),
        LogisticRegression(max_iter=500),
    )
    pipe.fit(X, y)
    assert pipe.predict(X).shape == y.shape
    assert pipe.score(X, y) > 0.5


def test_grid_search_over_six_losses_in_parallel(wine):
    X, _ = wine
    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(n_components=2, **FAST))
    search = GridSearchCV(pipe, {"autoencodertransformer__loss": SIX_LOSSES}, cv=2, n_jobs=2)
    search.fit(X)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 6
    assert np.all(np.isfinite(scores))
    assert len(np.unique(np.round(scores, 10))) == 6
    assert search.best_params_["autoencodertransformer__loss"] in SIX_LOSSES
    # Scores are minus a reconstruction error in one unit, whatever the loss.
    assert np.all(scores < 0)


def test_score_is_mean_of_score_samples_and_loss_free(wine):
    X, _ = wine
    est = AutoencoderTransformer(loss="bce", **FAST).fit(X)
    assert est.score(X) == pytest.approx(np.mean(est.score_samples(X)))
    recon = est.inverse_transform(est.transform(X))
    by_hand = -np.mean(((X - recon) / X.std(axis=0)) ** 2, axis=1)
    np.testing.assert_allclose(est.score_samples(X), by_hand, rtol=1e-6)


def test_set_output_pandas_names_flow_through_pipeline(wine):
    X, _ = wine
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    pipe = make_pipeline(StandardScaler(), AutoencoderTransformer(n_components=3, **FAST))
    pipe.set_output(transform="pandas")
    codes = pipe.fit_transform(frame)
    assert isinstance(codes, pd.DataFrame)
    assert list(codes.columns) == [f"autoencodertransformer{i}" for i in range(3)]
    assert list(pipe[-1].feature_names_in_) == list(frame.columns)
    # transform on its own honours set_output too, not only fit_transform.
    again = pipe.transform(frame)
    assert isinstance(again, pd.DataFrame)
    direct = AutoencoderTransformer(n_components=3, **FAST).set_output(transform="pandas")
    assert isinstance(direct.fit(frame).transform(frame), pd.DataFrame)


def test_inverse_transform_returns_original_units(wine):
    X, _ = wine
    est = AutoencoderTransformer(n_components=6, hidden_layer_sizes=(32,), max_iter=100)
    est.set_params(random_state=0, learning_rate_init=3e-3).fit(X)
    recon = est.inverse_transform(est.transform(X))
    assert recon.shape == X.shape
    # Column means are recovered in their own units (they span 0.1 to 750).
    np.testing.assert_allclose(recon.mean(axis=0), X.mean(axis=0), rtol=0.1, atol=0.05)


def test_inverse_transform_checks_code_width(wine):
    X, _ = wine
    est = AutoencoderTransformer(n_components=2, **FAST).fit(X)
    with pytest.raises(ValueError, match="n_components=2"):
        est.inverse_transform(np.zeros((3, 5)))


def test_vae_transform_is_deterministic(wine):
    X, _ = wine
    est = AutoencoderTransformer(loss="vae", **FAST).fit(X)
    np.testing.assert_array_equal(est.transform(X), est.transform(X))
    np.testing.assert_array_equal(est.score_samples(X), est.score_samples(X))


def test_pickle_round_trip_is_exact(wine):
    X, _ = wine
    est = AutoencoderTransformer(**FAST).fit(X)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.transform(X), est.transform(X))
    np.testing.assert_array_equal(again.score_samples(X), est.score_samples(X))


def test_batch_composition_does_not_change_outputs(wine):
    X, _ = wine
    est = AutoencoderTransformer(**FAST).fit(X)
    full = est.transform(X)
    one_by_one = np.vstack([est.transform(row[None]) for row in X[:20]])
    np.testing.assert_array_equal(full[:20], one_by_one)


def test_batch_composition_does_not_change_outputs_on_two_threads():
    # The suite runs on one thread (conftest.py), where a row's result cannot
    # depend on the thread count; a user's default is every core.
    X = np.random.RandomState(0).normal(size=(300, 2000))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        est = AutoencoderTransformer(hidden_layer_sizes=(64,), max_iter=1, random_state=0)
        est.fit(X)
        full, scores = est.transform(X), est.score_samples(X)
        one_by_one = np.vstack([est.transform(row[None]) for row in X[:5]])
        scores_one_by_one = np.hstack([est.score_samples(row[None]) for row in X[:5]])
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(full[:5], one_by_one)
    np.testing.assert_array_equal(scores[:5], scores_one_by_one)


def test_vae_samples_match_training_moments():
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(1000, 2))
    X = latent @ rng.normal(size=(2, 5)) + 0.1 * rng.normal(size=(1000, 5))
    X += np.array([1.0, -2.0, 3.0, 0.0, 10.0])
    vae = AutoencoderTransformer(
        loss="vae", n_components=2, hidden_layer_sizes=(32,), learning_rate_init=3e-3
    )
    vae.set_params(random_state=0).fit(X)
    samples = vae.sample(5000, random_state=0)
    assert samples.shape == (5000, 5)
    std = X.std(axis=0)
    np.testing.assert_allclose((samples.mean(axis=0) - X.mean(axis=0)) / std, 0, atol=0.1)
    np.testing.assert_allclose(samples.var(axis=0) / X.var(axis=0), 1, atol=0.2)
    np.testing.assert_array_equal(samples, vae.sample(5000, random_state=0))


def test_vae_sample_as_dataframe_and_errors(wine):
    X, _ = wine
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    vae = AutoencoderTransformer(loss="vae", **FAST).set_output(transform="pandas").fit(frame)
    samples = vae.sample(3, random_state=0)
    assert isinstance(samples, pd.DataFrame)
    assert list(samples.columns) == list(frame.columns)
    with pytest.raises(ValueError, match="loss='vae'"):
        AutoencoderTransformer(**FAST).fit(X).sample(3)


@pytest.mark.parametrize("k", [2, 4])
def test_linear_autoencoder_matches_pca(k):
    """A linear autoencoder trained with MSE spans the principal subspace."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    X, _ = load_breast_cancer(return_X_y=True)
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    def error(model, X):
        return np.mean((model.inverse_transform(model.transform(X)) - X) ** 2)

    pca = PCA(n_components=k).fit(X_train)
    ae = AutoencoderTransformer(
        n_components=k,
        activation="identity",
        hidden_layer_sizes=(),
        learning_rate_init=1e-2,
        max_iter=500,
        random_state=0,
    ).fit(X_train)
    # PCA is the optimum on the training rows; the autoencoder gets within 3 %.
    assert error(pca, X_train) <= error(ae, X_train) * (1 + 1e-6)
    assert error(ae, X_train) <= 1.03 * error(pca, X_train)
    assert error(ae, X_test) <= 1.03 * error(pca, X_test)


def test_notebook_display_shows_parameters_not_the_network(wine):
    X, _ = wine
    est = AutoencoderTransformer(n_components=3, **FAST).fit(X)
    html = est._repr_html_()
    assert "AutoencoderTransformer" in html and "n_components" in html
    text = repr(est)
    assert text.startswith("AutoencoderTransformer(") and "n_components=3" in text
    assert "Linear" not in text and "Sequential" not in text
