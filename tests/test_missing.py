"""Missing values: NaN (and pandas NA) are holes, left out of losses and scores.

What a hole may change and what it may not: the network sees the column's
training mean there; the loss, its gradients, the monitoring metrics, the
scores and the scaling statistics are computed over observed entries only.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from _helpers import ESTIMATORS
from sklearn.model_selection import GridSearchCV

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from skae._columns import as_target
from skae._net import RowSource, ScaledRows

FAST = {"hidden_layer_sizes": (8,), "max_iter": 5, "batch_size": 64, "random_state": 0}
LOSSES = ["mse", "mae", "huber", "bce", "sparse", "denoise", "vae"]


def correlated(n_samples=200, n_features=6, seed=0, noise=0.1):
    """Rows of rank 2 plus a little noise: every column is predictable from
    the others."""
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n_samples, 2)) @ rng.normal(size=(2, n_features))
    return latent + noise * rng.normal(size=(n_samples, n_features))


def with_holes(X, fraction=0.2, seed=1):
    """``X`` with ``fraction`` of its entries set to NaN at random, never a
    whole row."""
    rng = np.random.RandomState(seed)
    holes = rng.rand(*X.shape) < fraction
    holes[holes.all(axis=1), 0] = False
    X = X.copy()
    X[holes] = np.nan
    return X


def sum_of_squared_loss(y_true, y_pred):
    """A callable loss that sums: it sees only observed entries, as 1-D tensors."""
    return ((y_true - y_pred) ** 2).sum()


def decoder_output_layer(module):
    """The last linear layer of the decoder (plain or ensemble)."""
    layers = [m for m in module.decoder if hasattr(m, "weight")]
    return layers[-1]


def encoder_input_layer(module):
    return next(m for m in module.encoder if hasattr(m, "weight"))


def loss_and_grads(est, X):
    """The training loss of one batch of ``X`` and the gradients it gives."""
    module, criterion = est.net_.module_, est.net_.criterion_
    data = ScaledRows(RowSource(X), est._columns_)
    xb, observed = data.batch(slice(None))
    module.eval()  # no dropout: the same forward pass every time
    module.zero_grad()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        loss = criterion(module(xb), as_target(xb, observed))
    loss.backward()
    return loss.item(), {k: p.grad.clone() for k, p in module.named_parameters()}


# ------------------------------------------------------------------ masks
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("loss", [*LOSSES, sum_of_squared_loss])
def test_a_hole_changes_neither_the_loss_nor_the_gradient_of_the_weights_it_feeds(cls, loss):
    X = correlated(40)
    est = cls(**FAST, loss=loss, scaling="standard" if loss != "bce" else "minmax").fit(X)
    row = X[:1].copy()
    row[0, 2] = np.nan
    loss_value, grads = loss_and_grads(est, row)
    assert np.isfinite(loss_value)
    # The output that reconstructs the hole gets no gradient from it ...
    output = decoder_output_layer(est.net_.module_)
    names = {id(p): k for k, p in est.net_.module_.named_parameters()}
    weight, bias = grads[names[id(output.weight)]], grads[names[id(output.bias)]]
    row = weight[..., 2] if weight.dim() == 3 else weight[2]  # the weights feeding output 2
    assert torch.all(row == 0)
    assert torch.all(bias[..., 2] == 0)
    # ... while the observed outputs do.
    assert torch.any(bias[..., 1] != 0)
    if loss != "bce":
        # Standard scaling: the hole enters as 0, so neither do the
        # encoder weights it feeds.
        first = encoder_input_layer(est.net_.module_)
        weight = grads[names[id(first.weight)]]  # (in, out) per member, or (out, in)
        column = weight[:, 2, :] if weight.dim() == 3 else weight[:, 2]
        assert torch.all(column == 0)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "bce", sum_of_squared_loss])
def test_loss_is_a_mean_over_observed_entries(cls, loss):
    """The reconstruction at a hole does not enter the loss, and the loss is
    the one of the observed entries alone."""
    X = correlated(40)
    est = cls(**FAST, loss=loss).fit(X)
    module, criterion = est.net_.module_, est.net_.criterion_
    data = ScaledRows(RowSource(with_holes(X[:10], 0.3)), est._columns_)
    xb, observed = data.batch(slice(None))
    with torch.no_grad():
        output = module(xb)
        recon = output[0]
        loss_value = criterion(output, as_target(xb, observed))
        moved = recon + 5.0 * (1 - observed)  # anything at the holes
        moved = moved.clamp(0, 1) if loss == "bce" else moved
        moved_loss = criterion((moved, *output[1:]), as_target(xb, observed))
        mask = observed.expand_as(recon).bool()
        kept = (recon[mask], xb.expand_as(recon)[mask])
        if loss == "bce":
            torch.testing.assert_close(moved_loss, loss_value)
            return
        expected = {
            "mse": lambda r, x: ((r - x) ** 2).mean(),
            "mae": lambda r, x: (r - x).abs().mean(),
            "huber": lambda r, x: torch.nn.functional.huber_loss(r, x),
            sum_of_squared_loss: lambda r, x: ((r - x) ** 2).sum(),
        }[loss](*kept)
    torch.testing.assert_close(loss_value, expected)
    torch.testing.assert_close(moved_loss, loss_value)


def test_callable_loss_receives_the_observed_entries():
    seen = []

    def recording(y_true, y_pred):
        seen.append((tuple(y_true.shape), bool(torch.isnan(y_true).any())))
        return ((y_true - y_pred) ** 2).mean()

    X = with_holes(correlated(40))
    AutoencoderTransformer(**FAST, loss=recording).fit(X)
    assert seen and all(len(shape) == 1 and not nan for shape, nan in seen)
    assert seen[0][0] == (np.isfinite(X).sum(),)  # one full batch of 40 rows
    seen.clear()
    AutoencoderTransformer(**FAST, loss=recording).fit(correlated(40))
    assert seen[0][0] == (40, 6)  # complete data: (rows, features)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("loss", ["mse", "mae"])
def test_monitoring_metrics_average_over_observed_entries(cls, loss):
    """One full-batch step with a negligible learning rate: the recorded
    metrics are the masked errors of the (unchanged) network."""
    X = with_holes(correlated(50), 0.3)
    params = {**FAST, "max_iter": 1, "batch_size": 50, "learning_rate_init": 1e-12}
    est = cls(**params, loss=loss, dropout=0.0, **no_trim(cls)).fit(X)
    z = (X - est.center_) / est.scale_
    recon = est.net_.module_(torch.as_tensor(np.nan_to_num(z), dtype=torch.float32))[0]
    diff = recon.detach().double().numpy() - z  # NaN at the holes, broadcast over members
    history = est.history_[0]
    np.testing.assert_allclose(history["train_mse"], np.nanmean(diff**2), rtol=1e-4)
    np.testing.assert_allclose(history["train_mae"], np.nanmean(np.abs(diff)), rtol=1e-4)


def no_trim(cls):
    return {"trim_fraction": 0.0} if cls is AutoencoderOutlierDetector else {}


# ------------------------------------------------------- inputs and scores
@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("scaling", ["standard", "minmax", None])
def test_a_hole_enters_the_network_as_the_training_mean(cls, scaling):
    X = with_holes(correlated())
    est = cls(**FAST, scaling=scaling).fit(X)
    row = X[:5].copy()
    row[:, 3] = np.nan
    filled = row.copy()
    filled[:, 3] = np.nanmean(X[:, 3])  # the statistics ignore the holes
    np.testing.assert_allclose(est.transform(row), est.transform(filled), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_scaling_statistics_ignore_missing_entries(cls):
    X = with_holes(correlated())
    est = cls(**FAST).fit(X)
    np.testing.assert_allclose(est.center_, np.nanmean(X, axis=0))
    np.testing.assert_allclose(est.error_scale_, np.nanstd(X, axis=0))
    np.testing.assert_array_equal(est._stats_.count, np.isfinite(X).sum(axis=0))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_score_is_the_mean_over_observed_entries(cls):
    X = correlated()
    est = cls(**FAST).fit(X)
    holed = with_holes(X, 0.3)
    errors = est._feature_errors(est._check_X(holed))
    np.testing.assert_allclose(-est.score_samples(holed), np.nanmean(errors, axis=1), rtol=1e-5)
    # Rows without holes score exactly as they do alone.
    complete = np.flatnonzero(~np.isnan(holed).any(axis=1))
    assert complete.size > 0
    np.testing.assert_array_equal(
        est.score_samples(holed)[complete], est.score_samples(X[complete])
    )


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_scores_with_holes_are_on_the_scale_of_complete_rows(cls):
    X = correlated(400)
    est = cls(**{**FAST, "max_iter": 30}).fit(X[:300])
    complete = -est.score_samples(X[300:])
    holed = -est.score_samples(with_holes(X[300:], 0.3))
    assert 0.5 < np.median(holed) / np.median(complete) < 3


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_feature_errors_are_nan_exactly_where_the_input_is_missing(cls):
    X = with_holes(correlated())
    est = cls(**FAST).fit(X)
    errors = est.feature_errors(X) if hasattr(est, "feature_errors") else est._feature_errors(X)
    np.testing.assert_array_equal(np.isnan(errors), np.isnan(X))
    assert np.all(np.isfinite(errors[~np.isnan(X)]))
    assert np.all(np.isfinite(est._feature_errors(correlated())))


def test_feature_errors_frame_keeps_the_holes():
    X = pd.DataFrame(with_holes(correlated()), columns=list("abcdef"))
    det = AutoencoderOutlierDetector(**FAST).fit(X).set_output(transform="pandas")
    errors = det.feature_errors(X)
    assert list(errors.columns) == list("abcdef")
    np.testing.assert_array_equal(errors.isna().to_numpy(), X.isna().to_numpy())


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_row_with_every_entry_missing_raises(cls):
    X = correlated(40)
    est = cls(**FAST).fit(X)
    empty = X.copy()
    empty[[3, 7]] = np.nan
    with pytest.raises(ValueError, match=r"Row\(s\) 3, 7 of X have every entry missing"):
        cls(**FAST).fit(empty)
    with pytest.raises(ValueError, match=r"Row\(s\) 3, 7 of X have every entry missing"):
        cls(**FAST).partial_fit(empty)
    methods = ["score_samples", "score", "transform"] + (
        ["predict", "decision_function", "feature_errors"] if hasattr(est, "predict") else []
    )
    for method in methods:
        with pytest.raises(ValueError, match="every entry missing"):
            getattr(est, method)(empty)
    sparse = sp.csr_matrix(empty)
    with pytest.raises(ValueError, match=r"Row\(s\) 3, 7 of X have every entry missing"):
        est.score_samples(sparse)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_column_missing_in_every_training_row_raises(cls):
    X = correlated(40)
    X[:, 4] = np.nan
    with pytest.raises(ValueError, match=r"Column\(s\) 4 of X are missing \(NaN\) in every"):
        cls(**FAST).fit(X)
    frame = pd.DataFrame(X, columns=list("abcdef"))
    with pytest.raises(ValueError, match=r"Column\(s\) 'e' \(index 4\) of X are missing"):
        cls(**FAST).fit(frame)
    with pytest.raises(ValueError, match="in every training row"):
        cls(**FAST).partial_fit(frame)
    est = cls(**FAST)
    with pytest.raises(ValueError, match="in every training row"):
        est.fit(frame)
    assert not hasattr(est, "net_")  # all or nothing


# ---------------------------------------------------- data types and API
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pandas_nullable_float64_with_na(cls):
    X = with_holes(correlated())
    frame = pd.DataFrame({f"c{j}": pd.array(X[:, j], dtype="Float64") for j in range(X.shape[1])})
    frame = frame.mask(np.isnan(X), pd.NA)
    assert frame.isna().to_numpy().sum() == np.isnan(X).sum()
    est = cls(**FAST).fit(frame)
    reference = cls(**FAST).fit(X)
    np.testing.assert_allclose(est.score_samples(frame), reference.score_samples(X))
    np.testing.assert_allclose(est.transform(frame), reference.transform(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_partial_fit_with_holes(cls):
    X = with_holes(correlated(90))
    est = cls(**FAST)
    for chunk in np.array_split(X, 3):
        est.partial_fit(chunk)
    fitted = cls(**FAST).fit(X)
    np.testing.assert_allclose(est.center_, fitted.center_)
    np.testing.assert_allclose(est.error_scale_, fitted.error_scale_)
    assert est.n_iter_ == 3
    assert all(np.isfinite(row["train_loss"]) for row in est.history_)
    assert np.all(np.isfinite(est.score_samples(X)))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_early_stopping_with_holes(cls):
    X = with_holes(correlated())
    est = cls(**FAST, early_stopping=True).fit(X)
    assert all(np.isfinite(row["valid_loss"]) for row in est.history_)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pickle_round_trip_with_holes(cls):
    X = with_holes(correlated())
    est = cls(**FAST).fit(X)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.score_samples(X), est.score_samples(X))
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))


def test_models_pickled_before_the_column_map_load():
    """Older pickles hold center_, scale_ and error_scale_ themselves, and
    statistics without per-column counts."""
    X = correlated()
    est = AutoencoderTransformer(**FAST).fit(X)
    state = pickle.loads(pickle.dumps(est.__getstate__()))
    columns = state.pop("_columns_")
    state.update(center_=columns.center, scale_=columns.scale, error_scale_=columns.error_scale)
    del state["_stats_"].count
    old = AutoencoderTransformer.__new__(AutoencoderTransformer)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    np.testing.assert_array_equal(old.score_samples(X), est.score_samples(X))
    np.testing.assert_array_equal(old._stats_.count, len(X))
    np.testing.assert_array_equal(old.transform(with_holes(X)), est.transform(with_holes(X)))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_set_output_pandas_with_holes(cls):
    X = pd.DataFrame(with_holes(correlated()), columns=list("abcdef"))
    est = cls(**FAST).set_output(transform="pandas").fit(X)
    codes = est.transform(X)
    assert isinstance(codes, pd.DataFrame)
    assert not codes.isna().any().any()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_imputation_with_pandas_keeps_each_rows_label(cls):
    # A shuffled subset with its own row labels: the reconstruction must come
    # back under the same labels, or fillna fills the wrong rows.
    X = pd.DataFrame(with_holes(correlated()), columns=list("abcdef"))
    test = X.sample(frac=0.5, random_state=0)
    est = cls(**FAST).set_output(transform="pandas").fit(X)
    codes = est.transform(test)
    reconstruction = est.inverse_transform(codes)
    assert reconstruction.index.equals(test.index)
    filled = test.fillna(reconstruction)
    assert not filled.isna().any().any()
    expected = est.set_output(transform="default").inverse_transform(codes.to_numpy())
    holes = test.isna().to_numpy()
    np.testing.assert_array_equal(filled.to_numpy()[holes], expected[holes])


def test_grid_search_over_data_with_holes():
    X = with_holes(correlated())
    search = GridSearchCV(AutoencoderTransformer(**FAST), {"n_components": [1, 2]}, cv=2)
    search.fit(X)
    assert search.best_params_["n_components"] in (1, 2)
    assert np.isfinite(search.best_score_)


def test_ensemble_detector_finds_outliers_in_data_with_holes():
    X = correlated(300)
    X[:5] += 6 * np.random.RandomState(2).choice([-1, 1], size=(5, X.shape[1]))
    holed = with_holes(X, 0.2)
    det = AutoencoderOutlierDetector(max_iter=50, n_estimators=4, random_state=0).fit(holed)
    assert det.error_median_.shape == (4, 6)
    assert np.all(np.isfinite(det.error_median_))
    scores = det.score_samples(holed)
    assert set(np.argsort(scores)[:5]) == set(range(5))
    assert det.predict(holed)[:5].tolist() == [-1] * 5
    det.calibrate(holed)
    assert np.isfinite(det.offset_)


def test_imputation_beats_column_means():
    """``inverse_transform(transform(X))`` fills the holes: on correlated
    data, far better than each column's mean."""
    X = correlated(600, n_features=8, noise=0.05)
    train, test = with_holes(X[:400], 0.2), X[400:]
    holed = with_holes(test, 0.2, seed=3)
    holes = np.isnan(holed)
    ae = AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(32,), max_iter=150, random_state=0
    ).fit(train)
    filled = ae.inverse_transform(ae.transform(holed))
    means = np.broadcast_to(np.nanmean(train, axis=0), test.shape)
    ae_error = np.mean((filled[holes] - test[holes]) ** 2)
    mean_error = np.mean((means[holes] - test[holes]) ** 2)
    assert ae_error < 0.5 * mean_error


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_holes_on_the_gpu_as_on_the_cpu(cls):
    X = with_holes(correlated())
    gpu = cls(**FAST, device="cuda").fit(X)
    cpu = cls(**FAST, device="cpu").fit(X)
    np.testing.assert_allclose(gpu.score_samples(X), cpu.score_samples(X), rtol=1e-3, atol=1e-4)
    errors = gpu._feature_errors(gpu._check_X(X))
    np.testing.assert_array_equal(np.isnan(errors), np.isnan(X))
    empty = X.copy()
    empty[4] = np.nan
    with pytest.raises(ValueError, match=r"Row\(s\) 4 of X have every entry missing"):
        gpu.score_samples(empty)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_hole_in_a_huge_constant_column_scores(cls):
    # The running mean of six equal values of 1.55e54 comes out one ulp
    # (3.4e38) above them: standard scaling made every input -3.4e38 (fit
    # diverged), and minmax's fill beyond float32 made 0 * inf = NaN in
    # every clean row scored beside a hole (found by tests/test_fuzz.py).
    X = np.array(
        [
            [1.5513391032294092e54, 7.918602367368037e52],
            [1.5513391032294092e54, -7.233656584127521e52],
            [1.5513391032294092e54, 1.446778126259029e53],
            [1.5513391032294092e54, 2.111094537874068e53],
            [1.5513391032294092e54, 1.084529036102295e54],
            [1.5513391032294092e54, 1.4661374900237797e52],
        ]
    )
    holes = X.copy()
    holes[0, 0] = np.nan
    for scaling in ("standard", "minmax"):
        est = cls(hidden_layer_sizes=(3,), max_iter=1, scaling=scaling, random_state=0).fit(X)
        assert est.center_[0] == X[0, 0]  # the constant itself, not one ulp above
        assert np.all(np.isfinite(est.score_samples(holes))), scaling
        np.testing.assert_allclose(
            est.score_samples(holes)[1:], est.score_samples(X)[1:], rtol=1e-6
        )
