"""``ColumnMap``: the one mapping between the user's columns and the network's.

Training (``ScaledRows`` in ``_net.py``) and scoring (``BaseAutoencoder``'s
``_batches``) turn raw rows into network inputs here and nowhere else:

- scaling: ``z = (x - center) / scale``, with statistics of the training
  data that ignore missing entries;
- missing entries (NaN; validation turns pandas NA into NaN): the network's
  input there is the column's training mean in scaled space (``fill``: 0
  for standard scaling, ``(mean - min) / (max - min)`` for minmax), and a
  mask of the observed entries goes with the batch, so that the loss, the
  monitoring metrics and the reconstruction errors leave the holes out;
- back: ``x = z * scale + center``, and the per-feature weights
  ``(scale / error_scale) ** 2`` that turn squared errors in scaled space
  into squared errors in units of the training standard deviation.

Data without holes takes the same path with no mask at all: no mask is
made, and no work is done per entry beyond the scaling itself.
"""

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
import torch

from ._utils import safe_scale

__all__ = ["INPUT_BOUND", "ColumnMap", "Observed", "as_target", "has_missing", "split_target"]

# Scaled inputs are clipped to this magnitude before the network when
# scoring (training data is checked to stay far inside it), so rows far
# outside the training range get huge, finite errors instead of inf or NaN.
INPUT_BOUND = 1e6

FLOAT32_MAX = float(np.finfo(np.float32).max)

# Rows named in the error about rows with every entry missing.
ROWS_SHOWN = 5


class Observed(NamedTuple):
    """A training target with holes: scaled values (holes filled) and the
    mask of the observed entries, of the same shape (float32: 1 observed,
    0 missing)."""

    values: torch.Tensor
    mask: torch.Tensor


def as_target(values, observed):
    """The training target of a batch: the tensor itself without holes."""
    return values if observed is None else Observed(values, observed)


def split_target(target):
    """``(values, observed)`` of a target; ``observed`` is None without holes."""
    if isinstance(target, Observed):
        return target.values, target.mask
    return target, None


def has_missing(X):
    """Whether a validated dense array or sparse matrix holds NaN.

    One reduction over the stored values (NaN propagates through ``min``);
    validation has already rejected inf.
    """
    values = X.data if sp.issparse(X) else X
    return values.size > 0 and bool(np.isnan(np.min(values)))


def _column_names(indices, feature_names):
    if feature_names is None:
        return ", ".join(str(i) for i in indices)
    return ", ".join(f"{feature_names[i]!r} (index {i})" for i in indices)


class ColumnMap:
    """Scaling and missing values of the user's columns, fitted from statistics.

    Parameters
    ----------
    center, scale : ndarray of shape (n_features,)
        Network inputs are ``(x - center) / scale``.
    error_scale : ndarray of shape (n_features,)
        Training standard deviation of each column (1 for constant ones):
        the unit of reconstruction errors.
    fill : ndarray of shape (n_features,)
        Network input of a missing entry: the column's training mean,
        scaled.
    """

    def __init__(self, center, scale, error_scale, fill):
        self.center = np.asarray(center, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.error_scale = np.asarray(error_scale, dtype=np.float64)
        self.fill = np.asarray(fill, dtype=np.float64)

    @classmethod
    def from_stats(cls, stats, mode, feature_names=None):
        """Fit the map to :class:`~skae._utils.RunningStats`.

        ``mode`` is "standard", "minmax" or None (raw values).  Raises a
        ``ValueError`` that names the column when a column was missing in
        every training row, and one that says what to do when the data
        overflow or underflow float64's variance.
        """
        never = np.flatnonzero(stats.count == 0)
        if never.size:
            raise ValueError(
                f"Column(s) {_column_names(never, feature_names)} of X are missing (NaN) "
                "in every training row, so nothing can be learned about them; drop "
                "them, or pass training rows in which they are observed."
            )
        if not (np.all(np.isfinite(stats.m2)) and np.all(np.isfinite(stats.max))):
            raise ValueError(
                "X has values too large to compute its variance in float64 "
                f"(largest magnitude {np.max(np.abs([stats.min, stats.max])):.3g}); "
                "divide X by a constant before fitting."
            )
        # Any column's std is at least spread / sqrt(2 n); far less means its
        # squared deviations underflowed, and it would pass for constant.
        spread = stats.max - stats.min
        underflow = (stats.std * np.sqrt(2 * stats.count) < spread / 2) & (
            spread > 10 * np.finfo(np.float64).eps * np.abs(stats.mean)
        )
        if np.any(underflow):
            raise ValueError(
                "X has values too small to compute its variance in float64 "
                f"(spread {np.max(spread[underflow]):.3g}); multiply X by a constant "
                "before fitting."
            )
        std = safe_scale(stats.std, stats.mean)
        if mode == "standard":
            center, scale = stats.mean, std
        elif mode == "minmax":
            center, scale = stats.min, safe_scale(stats.max - stats.min, stats.min)
        else:
            center, scale = np.zeros_like(std), np.ones_like(std)
        # The scaled mean: exactly 0 for standard scaling.
        columns = cls(center, scale, std, (stats.mean - center) / scale)
        low, high = columns.to_scaled(stats.min), columns.to_scaled(stats.max)
        magnitude = np.max(np.abs([low, high]))
        if mode is None and magnitude > INPUT_BOUND:
            raise ValueError(
                f"X has values up to {magnitude:.3g} in magnitude, which the network "
                "cannot learn with scaling=None; use scaling='standard'."
            )
        return columns

    def to_scaled(self, x):
        """Raw values (numpy, last axis the columns) in the network's units."""
        return (x - self.center) / self.scale

    def to_original(self, z):
        """Network outputs (numpy, last axis the columns) in the user's units."""
        return z * self.scale + self.center

    def error_weights(self):
        """Factors from squared errors in scaled space to squared errors in
        units of the training standard deviation: ``(scale / error_scale) ** 2``."""
        return (self.scale / self.error_scale) ** 2

    def bind(self, source):
        """The map applied to the rows of a :class:`~skae._net.RowSource`.

        Raises a ``ValueError`` naming the rows when some have every entry
        missing: there is nothing to reconstruct or score in them.
        """
        return BoundColumns(self, source)


class BoundColumns:
    """A :class:`ColumnMap` on one source's device and dtype.

    Calling it on raw rows of the source returns ``(z, observed)``: the
    float32 network inputs, and None when the source has no missing entry,
    else the float32 mask of observed entries, 1 where observed and 0 where
    missing (``z`` holds ``fill`` there).  The mask is a float, not a
    boolean, because on a CPU torch's boolean kernels (``isnan``,
    ``masked_fill``, reductions of booleans) cost several times the
    arithmetic ones, and a float mask multiplies and sums directly.
    """

    def __init__(self, columns, source):
        self.missing = source.missing
        if self.missing:
            _check_rows(source)
        dtype = source.dtype
        shift = np.max(np.abs(columns.center), initial=0.0)
        # x - center can only overflow float32 when the center itself is huge
        # (below ~1e31 it vanishes in the rounding of any x near float32's
        # maximum); only then look at the data and scale in float64 if needed.
        if dtype == torch.float32 and shift > 1e30 and shift + source.magnitude() >= FLOAT32_MAX:
            dtype = torch.float64
        # scaled = raw * inverse + shift: one fused kernel per batch, or
        # none at all for the identity (scaling=None).
        center, scale = columns.center, columns.scale
        self.identity = not center.any() and bool(np.all(scale == 1.0))
        self.inverse = torch.as_tensor(1.0 / scale, dtype=dtype).to(source.device)
        self.shift = torch.as_tensor(-center / scale, dtype=dtype).to(source.device)
        self.fill = torch.as_tensor(columns.fill, dtype=torch.float32).to(source.device)
        self.fill_zero = not columns.fill.any()  # standard scaling

    def __call__(self, raw):
        """``(z, observed)`` of raw rows; ``z`` may be ``raw`` itself (as
        float32) for the identity scaling: callers must not modify it in
        place."""
        scaled = raw if self.identity else torch.addcmul(self.shift, raw, self.inverse)
        if scaled.dtype != torch.float32:
            scaled = scaled.to(torch.float32)
        if not self.missing:
            return scaled, None
        # raw * 0 is 0 for a number and NaN for a hole (validation has
        # rejected inf): three vectorized kernels give the float mask.
        observed = torch.nan_to_num(raw * 0.0, nan=-1.0).add_(1.0)
        if observed.dtype != torch.float32:
            observed = observed.to(torch.float32)
        z = torch.nan_to_num(scaled, nan=0.0)
        if not self.fill_zero:
            z = torch.addcmul(z, 1.0 - observed, self.fill)
        return z, observed


def _check_rows(source):
    """Raise when rows of the source have every entry missing."""
    if source.sparse is not None:
        X = source.sparse
        stored_nan = np.isnan(X.data)
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
        per_row = np.bincount(rows[stored_nan], minlength=X.shape[0])
        empty = np.flatnonzero(per_row == X.shape[1])
    elif source.tensor.device.type == "cpu":
        empty = np.flatnonzero(np.isnan(source.tensor.numpy()).all(axis=1))
    else:
        empty = torch.isnan(source.tensor).all(dim=1).nonzero().flatten().cpu().numpy()
    if empty.size:
        shown = ", ".join(str(i) for i in empty[:ROWS_SHOWN])
        more = f" and {empty.size - ROWS_SHOWN} more" if empty.size > ROWS_SHOWN else ""
        raise ValueError(
            f"Row(s) {shown}{more} of X have every entry missing (NaN): there is "
            "nothing to reconstruct or score in them. Drop them first, for example "
            "X[~np.isnan(X).all(axis=1)]."
        )
