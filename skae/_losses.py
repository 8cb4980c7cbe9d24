"""The loss registry: one entry per named loss.

Every named loss is a :class:`LossSpec`: a reconstruction term plus flags
that say what else it needs (a penalty on the code, corrupted inputs while
training, a KL term, a sigmoid output, targets in [0, 1]).  Estimators never
branch on loss names; they ask this registry.  Adding a loss is adding one
entry to ``LOSSES`` (and, if its term is a mean of elementwise terms, its
function to ``_ELEMENTWISE``, which only saves a copy for ensembles).

Missing entries: when the training data has holes, every reconstruction
term is a mean over the observed entries only (``observed``, a float
mask: 1 observed, 0 missing); a hole changes neither the loss nor any
gradient.  Without holes
``observed`` is None and the terms are torch's fused losses.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._columns import split_target

__all__ = ["LOSSES", "LossSpec", "ReconstructionLoss", "get_loss_spec"]


def _observed_mean(values, observed):
    """Mean of elementwise ``values``: over all of them, or over the entries
    where ``observed`` is 1 (the others contribute nothing, not even a zero
    to the count)."""
    if observed is None:
        return values.mean()
    return (values * observed).sum() / observed.sum().clamp(min=1)


def _mse(y_true, y_pred, huber_delta, observed=None):
    if observed is None:
        return F.mse_loss(y_pred, y_true)
    return _observed_mean(F.mse_loss(y_pred, y_true, reduction="none"), observed)


def _mae(y_true, y_pred, huber_delta, observed=None):
    if observed is None:
        return F.l1_loss(y_pred, y_true)
    return _observed_mean(F.l1_loss(y_pred, y_true, reduction="none"), observed)


def _huber(y_true, y_pred, huber_delta, observed=None):
    if observed is None:
        return F.huber_loss(y_pred, y_true, delta=huber_delta)
    values = F.huber_loss(y_pred, y_true, delta=huber_delta, reduction="none")
    return _observed_mean(values, observed)


def _gaussian_nll(y_true, y_pred, huber_delta, observed=None):
    """Gaussian negative log-likelihood per feature, with the variance at its
    optimum (the batch's mean squared error), up to a constant.

    A VAE with a fixed decoder variance of 1/2 (plain MSE) over-weights the
    KL term on well-explained data, and its samples come out too narrow; a
    calibrated decoder (Rybkin et al., 2021) balances the two terms.
    """
    return 0.5 * torch.log(_mse(y_true, y_pred, huber_delta, observed) + 1e-12)


def _bce(y_true, y_pred, huber_delta, observed=None):
    """Binary cross-entropy as torch computes it (each log clamped at -100),
    written out: ``F.binary_cross_entropy`` raises on a NaN prediction,
    where this gives a NaN loss that the divergence guard handles."""
    # Scaled [0, 1] targets can exceed 1 by a rounding step in float32.
    y = y_true.clamp(0, 1)
    log_p = torch.log(y_pred).clamp(min=-100.0)
    log_q = torch.log(1.0 - y_pred).clamp(min=-100.0)
    values = -(y * log_p + (1.0 - y) * log_q)
    return values.mean() if observed is None else _observed_mean(values, observed)


# Reconstruction terms whose value on an ensemble's (members, rows,
# features) batch, with the target broadcast over the members, is the same
# as on the flattened (members x rows, features) batch: means (or a
# function of a mean) over elementwise terms.  The criterion passes them the
# batch as it is, sparing a copy of the target per member; any other term
# (a user's callable, a new entry not listed here) gets the flattened batch.
_ELEMENTWISE = frozenset({_mse, _mae, _huber, _gaussian_nll, _bce})


@dataclass(frozen=True)
class LossSpec:
    """What a named loss needs from the network and the data.

    Attributes
    ----------
    reconstruction : callable
        ``(y_true, y_pred, huber_delta, observed=None) -> scalar tensor``,
        the mean reconstruction error of a batch; over the entries where
        the mask ``observed`` is 1 when it is given.
    output_activation : {"identity", "sigmoid"}
        Activation of the decoder's last layer.
    code_penalty : bool
        Add ``sparsity_weight * mean|code|``.
    corrupts_input : bool
        Add Gaussian noise of scale ``noise_level`` to the inputs while
        training (never when scoring).
    variational : bool
        The encoder outputs a mean and a log-variance and the loss adds
        ``kl_weight * KL(q(z|x) || N(0, I))``.
    unit_interval : bool
        Training targets must lie in [0, 1].
    summary : str
        When to use it, for error messages and the docs.
    """

    reconstruction: Callable
    output_activation: str = "identity"
    code_penalty: bool = False
    corrupts_input: bool = False
    variational: bool = False
    unit_interval: bool = False
    summary: str = ""


LOSSES = {
    "mse": LossSpec(_mse, summary="continuous data; the default"),
    "bce": LossSpec(
        _bce,
        output_activation="sigmoid",
        unit_interval=True,
        summary="data in [0, 1] such as pixel intensities or binary indicators",
    ),
    "mae": LossSpec(_mae, summary="continuous data with outliers or heavy tails"),
    "huber": LossSpec(_huber, summary="quadratic within huber_delta and linear beyond it"),
    "sparse": LossSpec(_mse, code_penalty=True, summary="MSE plus an L1 penalty on the code"),
    "denoise": LossSpec(
        _mse,
        corrupts_input=True,
        summary="reconstruct clean rows from noisy ones; a robust code",
    ),
    "vae": LossSpec(
        _gaussian_nll,
        variational=True,
        summary="variational autoencoder; can generate new rows",
    ),
}


def get_loss_spec(loss):
    """Return the :class:`LossSpec` of a loss name or a user's callable.

    A callable ``loss(y_true, y_pred) -> tensor`` is wrapped as a plain
    reconstruction loss; a non-scalar result is averaged.  On complete
    data it receives ``(rows, features)`` tensors (for an ensemble, the
    members' rows one after another, ``(members x rows, features)``, the
    batch repeated for each member in ``y_true``); on data with missing
    entries, the observed entries only, as 1-D tensors ``y_true[observed]``
    and ``y_pred[observed]`` (every batch of that fit), so that a loss that
    averages its elementwise terms averages over observed entries.
    """
    if callable(loss):
        return LossSpec(_CallableReconstruction(loss), summary="user-defined")
    return LOSSES[loss]


class _CallableReconstruction:
    """Adapt a Keras-style ``loss(y_true, y_pred)`` to the registry signature."""

    def __init__(self, func):
        self.func = func

    def __call__(self, y_true, y_pred, huber_delta, observed=None):
        if observed is not None:
            kept = observed.bool()
            y_true, y_pred = y_true[kept], y_pred[kept]
        value = self.func(y_true, y_pred)
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"The callable loss {self.func!r} returned {type(value).__name__}; "
                "it must return a torch.Tensor computed from y_true and y_pred."
            )
        if y_pred.requires_grad and torch.is_grad_enabled() and not value.requires_grad:
            raise ValueError(
                f"The callable loss {self.func!r} returned a tensor without a gradient: "
                "it must be computed from y_pred with torch operations (no .detach(), "
                ".item(), .numpy() or torch.no_grad()), so that training can "
                "differentiate it."
            )
        return value.mean() if value.ndim else value


class ReconstructionLoss(nn.Module):
    """The training criterion: reconstruction term plus the spec's extras.

    The network returns ``(reconstruction, code, log_variance)``; the target
    is the clean input batch, or ``Observed(batch, mask)`` when the data
    has missing entries (see ``skae/_columns.py``): the reconstruction term
    then covers the observed entries only.

    Parameters
    ----------
    spec : LossSpec
        Entry of the registry.
    huber_delta, sparsity_weight, kl_weight : float
        Weights of the optional terms.
    heads : CategoricalHeads or None
        The softmax heads of categorical columns (``skae/_columns.py``).
        With them, the reconstruction term is the mean over a batch's
        observed user columns of each column's term: the chosen loss for
        the numeric columns (which alone reach ``reconstruction``, and a
        callable loss), the cross entropy divided by the column's training
        entropy for each categorical column.
    """

    # Criteria pickled before categorical columns have no heads of their own.
    heads = None

    def __init__(self, spec, huber_delta=1.0, sparsity_weight=0.0, kl_weight=1.0, heads=None):
        super().__init__()
        self.spec = spec
        self.huber_delta = huber_delta
        self.sparsity_weight = sparsity_weight
        self.kl_weight = kl_weight
        self.heads = heads

    @property
    def is_plain_mse(self):
        """Whether the loss is the mean squared reconstruction error alone."""
        spec = self.spec
        plain = spec.reconstruction is _mse and not (spec.code_penalty or spec.variational)
        return plain and self.heads is None

    def _table_loss(self, target, reconstruction, observed):
        """Numeric columns' loss and categorical columns' cross entropies,
        averaged over the observed user columns of a flat batch."""
        heads = self.heads
        total, count = heads.cross_entropy(reconstruction, target, observed)
        n = heads.n_numeric
        if n:
            kept = None if observed is None else observed[:, :n]
            numeric = self.spec.reconstruction(
                target[:, :n], reconstruction[:, :n], self.huber_delta, kept
            )
            n_numeric = target.shape[0] * n if kept is None else kept.sum()
            total = total + numeric * n_numeric
            count = count + n_numeric
        if isinstance(count, torch.Tensor):
            count = count.clamp(min=1)
        return total / count

    def forward(self, output, target):
        reconstruction, code, log_var = output
        target, observed = split_target(target)
        if reconstruction.dim() == 3:
            # An ensemble, (members, rows, features): each member's rows are
            # rows of the batch, so every term averages over the members.
            # The target is broadcast over the members (a view) for the
            # terms in _ELEMENTWISE; the categorical heads and any other
            # term take flattened (members x rows, features) batches.
            target = target.expand_as(reconstruction)
            if observed is not None:
                observed = observed.expand(reconstruction.shape)
            if self.heads is not None or self.spec.reconstruction not in _ELEMENTWISE:
                width = target.shape[-1]
                target = target.reshape(-1, width)
                observed = None if observed is None else observed.reshape(-1, width)
                reconstruction = reconstruction.reshape(-1, width)
            code = code.reshape(-1, code.shape[-1])
            log_var = None if log_var is None else log_var.reshape(-1, log_var.shape[-1])
        if self.heads is not None:
            loss = self._table_loss(target, reconstruction, observed)
        else:
            loss = self.spec.reconstruction(target, reconstruction, self.huber_delta, observed)
        if self.spec.code_penalty:
            loss = loss + self.sparsity_weight * code.abs().mean()
        if self.spec.variational:
            # KL(N(mu, sigma^2) || N(0, 1)) summed over the code, averaged over
            # rows, and divided by the number of features so that it is on the
            # same per-feature scale as the mean reconstruction error.
            kl = -0.5 * (1 + log_var - code.pow(2) - log_var.exp()).sum(dim=1)
            # Per user column: with categorical columns, not per network input.
            width = target.shape[-1] if self.heads is None else self.heads.n_columns
            loss = loss + self.kl_weight * kl.mean() / width
        return loss
