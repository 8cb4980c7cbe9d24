"""Every loss trains, and each one does what it promises."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from skae import AutoencoderTransformer
from skae._losses import LOSSES, ReconstructionLoss, get_loss_spec


def low_rank(n_rows=400, n_features=8, seed=0):
    rng = np.random.RandomState(seed)
    latent = rng.normal(size=(n_rows, 2))
    return latent @ rng.normal(size=(2, n_features)) + 0.05 * rng.normal(size=(n_rows, n_features))


def squared_error(y_true, y_pred):
    """A module-level callable loss, as users write them."""
    return (y_true - y_pred) ** 2


def loss_floor(loss, X):
    """The smallest value a loss can reach on X: BCE's is the targets' entropy."""
    if loss != "bce":
        return 0.0
    p = np.clip((X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0)), 1e-12, 1 - 1e-12)
    return float(-np.mean(p * np.log(p) + (1 - p) * np.log(1 - p)))


@pytest.mark.parametrize("loss", [*sorted(LOSSES), squared_error])
def test_training_reduces_the_loss(loss):
    X = low_rank()
    est = AutoencoderTransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        loss=loss,
        max_iter=40,
        learning_rate_init=3e-3,
        random_state=0,
    ).fit(X)
    assert len(est.loss_curve_) == est.n_iter_ == 40
    assert np.all(np.isfinite(est.loss_curve_))
    curve = np.asarray(est.loss_curve_)
    if loss == "vae":
        # A log-likelihood plus KL: a drop of 0.2 nats per feature is at least
        # the squared error falling by a factor e**0.4 = 1.5.
        assert curve[-1] < curve[0] - 0.2
    else:
        excess = curve - loss_floor(loss, X)
        assert excess[-1] < 0.7 * excess[0]


def near_zero_share(codes):
    magnitude = np.abs(codes)
    return np.mean(magnitude < 0.1 * magnitude.std())


def test_sparse_codes_are_sparser_than_mse():
    X = low_rank()
    params = {"n_components": 8, "hidden_layer_sizes": (16,), "max_iter": 60, "random_state": 0}
    dense = AutoencoderTransformer(loss="mse", **params).fit(X).transform(X)
    sparse = (
        AutoencoderTransformer(loss="sparse", sparsity_weight=1.0, **params).fit(X).transform(X)
    )
    assert near_zero_share(sparse) > 2 * near_zero_share(dense)
    assert np.abs(sparse).mean() < np.abs(dense).mean()


def test_denoise_cleans_corrupted_rows_better_than_mse():
    X = low_rank()
    rng = np.random.RandomState(1)
    noisy = X + 0.5 * X.std(axis=0) * rng.normal(size=X.shape)
    params = {"n_components": 8, "hidden_layer_sizes": (32,), "max_iter": 100, "random_state": 0}

    def clean_error(loss):
        est = AutoencoderTransformer(loss=loss, noise_level=0.5, **params).fit(X)
        restored = est.inverse_transform(est.transform(noisy))
        return np.mean(((restored - X) / X.std(axis=0)) ** 2)

    assert clean_error("denoise") < 0.95 * clean_error("mse")


def test_denoise_corrupts_only_while_training():
    X = low_rank(n_rows=50)
    est = AutoencoderTransformer(loss="denoise", noise_level=1.0, max_iter=2, random_state=0)
    est.fit(X)
    np.testing.assert_array_equal(est.transform(X), est.transform(X))
    assert est.net_.noise_level == 1.0
    plain = AutoencoderTransformer(loss="mse", noise_level=1.0, max_iter=2, random_state=0)
    assert plain.fit(X).net_.noise_level == 0.0


def batch_output(n_rows=5, n_features=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(n_rows, n_features, generator=gen)
    recon = torch.rand(n_rows, n_features, generator=gen) * 4 - 2
    code = torch.randn(n_rows, 2, generator=gen)
    return target, recon, code


def test_huber_matches_hand_computation():
    target, recon, code = batch_output()
    delta = 0.5
    diff = (recon - target).abs()
    by_hand = torch.where(diff <= delta, 0.5 * diff**2, delta * (diff - 0.5 * delta)).mean()
    criterion = ReconstructionLoss(get_loss_spec("huber"), huber_delta=delta)
    torch.testing.assert_close(criterion((recon, code, None), target), by_hand)
    assert (diff > delta).any() and (diff <= delta).any()


def test_callable_matches_hand_computation():
    target, recon, code = batch_output()
    criterion = ReconstructionLoss(get_loss_spec(squared_error))
    by_hand = ((target - recon) ** 2).sum() / target.numel()
    torch.testing.assert_close(criterion((recon, code, None), target), by_hand)


def test_callable_receives_y_true_first():
    seen = {}

    def record(y_true, y_pred):
        seen["args"] = (y_true, y_pred)
        return (y_true - y_pred).abs().mean()

    target, recon, code = batch_output()
    ReconstructionLoss(get_loss_spec(record))((recon, code, None), target)
    assert seen["args"][0] is target and seen["args"][1] is recon


def test_callable_returning_non_tensor_is_a_clear_error():
    def not_a_tensor(y_true, y_pred):
        return 1.0

    target, recon, code = batch_output()
    with pytest.raises(TypeError, match="must return a torch.Tensor"):
        ReconstructionLoss(get_loss_spec(not_a_tensor))((recon, code, None), target)


def test_sparse_and_vae_extra_terms():
    target, recon, code = batch_output()
    mse = F.mse_loss(recon, target)
    sparse = ReconstructionLoss(get_loss_spec("sparse"), sparsity_weight=0.3)
    torch.testing.assert_close(sparse((recon, code, None), target), mse + 0.3 * code.abs().mean())
    log_var = torch.full_like(code, -1.0)
    kl = 0.5 * (code**2 + log_var.exp() - 1 - log_var).sum(dim=1).mean() / target.shape[1]
    vae = ReconstructionLoss(get_loss_spec("vae"), kl_weight=2.0)
    torch.testing.assert_close(vae((recon, code, log_var), target), 0.5 * mse.log() + 2.0 * kl)


def test_bce_matches_hand_computation():
    target, recon, code = batch_output()
    prob = torch.sigmoid(recon)
    by_hand = -(target * prob.log() + (1 - target) * (1 - prob).log()).mean()
    criterion = ReconstructionLoss(get_loss_spec("bce"))
    torch.testing.assert_close(criterion((prob, code, None), target), by_hand)
    assert get_loss_spec("bce").output_activation == "sigmoid"


def test_bce_gives_nan_not_an_error_on_nan_predictions():
    """A diverged sigmoid output is NaN; the loss must say so with a NaN
    (which the divergence guard handles), not raise torch's range error.
    Found by tests/test_fuzz.py (bce, huge learning rate)."""
    import torch

    from skae._losses import LOSSES

    bce = LOSSES["bce"].reconstruction
    y_true = torch.tensor([[0.0, 1.0], [0.5, 0.2]])
    y_pred = torch.tensor([[0.1, 0.9], [0.4, 0.3]])
    expected = torch.nn.functional.binary_cross_entropy(y_pred, y_true)
    torch.testing.assert_close(bce(y_true, y_pred, 1.0), expected)
    y_pred[0, 0] = float("nan")
    assert torch.isnan(bce(y_true, y_pred, 1.0))


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("holes", [False, True])
def test_ensemble_losses_equal_the_flattened_batch(name, holes):
    # An ensemble's (members, rows, features) output meets its target
    # broadcast over the members; value and gradient are those of the
    # flattened (members x rows, features) batch against a copied target.
    from skae._columns import Observed

    spec = LOSSES[name]
    rng = torch.Generator().manual_seed(0)
    target = torch.rand(16, 5, generator=rng)
    recon = torch.rand(3, 16, 5, generator=rng).clamp(0.01, 0.99).requires_grad_()
    code = torch.randn(3, 16, 4 if spec.variational else 2, generator=rng)
    log_var = code[..., 2:] if spec.variational else None
    code = code[..., :2]
    observed = (torch.rand(16, 5, generator=rng) > 0.2).float() if holes else None
    batch = target if observed is None else Observed(target, observed)
    criterion = ReconstructionLoss(spec, sparsity_weight=0.1)
    loss = criterion((recon, code, log_var), batch)
    (grad,) = torch.autograd.grad(loss, recon)

    flat = recon.detach().reshape(-1, 5).requires_grad_()
    flat_target = target.expand(3, 16, 5).reshape(-1, 5)
    flat_observed = None if observed is None else observed.expand(3, 16, 5).reshape(-1, 5)
    flat_batch = flat_target if flat_observed is None else Observed(flat_target, flat_observed)
    flat_code = code.reshape(-1, 2)
    flat_log_var = None if log_var is None else log_var.reshape(-1, 2)
    expected = criterion((flat, flat_code, flat_log_var), flat_batch)
    (flat_grad,) = torch.autograd.grad(expected, flat)
    assert torch.equal(loss, expected)
    assert torch.equal(grad.reshape(-1, 5), flat_grad)
