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
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_array

from ._utils import check_numeric, safe_scale

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


def _never_observed(indices, feature_names):
    """The error for columns missing in every training row."""
    return ValueError(
        f"Column(s) {_column_names(indices, feature_names)} of X are missing (NaN) "
        "in every training row, so nothing can be learned about them; drop "
        "them, or pass training rows in which they are observed."
    )


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

    # The categorical columns (a fitted :class:`Categories`) and their
    # softmax heads (:class:`CategoricalHeads`), or None.
    categories = None
    heads = None

    @classmethod
    def from_stats(cls, stats, mode, feature_names=None, categories=None):
        """Fit the map to :class:`~skae._utils.RunningStats`.

        ``mode`` is "standard", "minmax" or None (raw values).
        ``categories`` holds the categorical columns, whose statistics (of
        their codes) are not used: their entries are one-hot slots, and
        their errors are in units of the column's training entropy.  Raises a
        ``ValueError`` that names the column when a column was missing in
        every training row, and one that says what to do when the data
        overflow or underflow float64's variance.
        """
        never = np.flatnonzero(stats.count == 0)
        if never.size:
            raise _never_observed(never, feature_names)
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
        # The mean lies between min and max; rounding in its running update
        # must not take it out: six equal values of 1.5e54 averaged to one
        # ulp (3.4e38) more, which made a constant column's every input
        # -3.4e38 under standard scaling, and its fill inf in float32.
        mean = np.clip(stats.mean, stats.min, stats.max)
        std = safe_scale(stats.std, mean)
        if mode == "standard":
            center, scale = mean, std
        elif mode == "minmax":
            center, scale = stats.min, safe_scale(stats.max - stats.min, stats.min)
        else:
            center, scale = np.zeros_like(std), np.ones_like(std)
        # The scaled mean: exactly 0 for standard scaling.
        fill = (mean - center) / scale
        if categories is not None:
            cat = categories.columns
            center, scale, fill = center.copy(), scale.copy(), fill.copy()
            center[cat], scale[cat], fill[cat] = 0.0, 1.0, 0.0
            std = std.copy()
            std[cat] = categories.units()
        columns = cls(center, scale, std, fill)
        if categories is not None:
            columns.categories = categories
            columns.heads = CategoricalHeads(categories)
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

    @property
    def n_inputs(self):
        """The network's width: numeric columns plus categorical slots."""
        if self.categories is None:
            return len(self.center)
        return len(self.categories.numeric) + int(self.categories.sizes.sum())

    def error_weights(self):
        """Factors from the errors :meth:`column_errors` gives to reported
        errors, per user column: ``(scale / error_scale) ** 2`` turns squared
        errors in scaled space into squared errors in units of the training
        standard deviation; a categorical column's surprise is divided by
        its training entropy (``error_scale``)."""
        weights = (self.scale / self.error_scale) ** 2
        if self.categories is not None:
            weights[self.categories.columns] = 1.0 / self.error_scale[self.categories.columns]
        return weights

    def column_errors(self, recon, z, raw):
        """Errors per user column of a batch, before :meth:`error_weights`.

        ``recon`` (``(rows, inputs)`` or ``(members, rows, inputs)``) is
        the network's output for inputs ``z`` made from raw rows ``raw``.
        Numeric columns: ``(z - z_hat) ** 2``.  Categorical columns: the
        surprise ``-log p`` of the observed category under the softmax
        head; for a category unseen in training, the largest surprise of
        any category in that row's head, and at least ``log(n + 1)`` with
        ``n`` the column's training count (a category never seen in ``n``
        rows has a probability below about ``1 / (n + 1)``).  Returns the
        errors (0 where missing) and the ``(rows, columns)`` float mask of
        observed entries, or None without holes.
        """
        cats = self.categories
        n_numeric = len(cats.numeric)
        out = recon.new_empty((*recon.shape[:-1], len(self.center)))
        numeric = recon[..., :n_numeric].sub_(z[:, :n_numeric]).square_()
        out.index_copy_(out.dim() - 1, _index(cats.numeric, out), numeric)
        codes = raw[:, _index(cats.columns, raw)].to(torch.float32)
        out.index_copy_(out.dim() - 1, _index(cats.columns, out), self.heads.surprise(recon, codes))
        missing = torch.isnan(raw)
        if not bool(missing.any()):
            return out, None
        observed = (~missing).to(torch.float32)
        return out.mul_(observed), observed

    def decode(self, x_hat):
        """Network outputs ``(rows, inputs)`` (numpy) in the user's columns:
        numeric values in their units, categorical ones as the slot code of
        the most likely category."""
        if self.categories is None:
            return self.to_original(x_hat)
        cats = self.categories
        n_numeric = len(cats.numeric)
        out = np.empty((x_hat.shape[0], len(self.center)), dtype=np.float64)
        out[:, cats.numeric] = (
            x_hat[:, :n_numeric] * self.scale[cats.numeric] + self.center[cats.numeric]
        )
        logits = torch.as_tensor(x_hat[:, n_numeric:], dtype=torch.float32)
        out[:, cats.columns] = self.heads.log_probabilities(logits).argmax(dim=1).t().numpy()
        return out

    def bind(self, source):
        """The map applied to the rows of a :class:`~skae._net.RowSource`.

        Raises a ``ValueError`` naming the rows when some have every entry
        missing: there is nothing to reconstruct or score in them.
        """
        if self.categories is not None:
            return BoundTable(self, source)
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
        fill = np.clip(columns.fill, -INPUT_BOUND, INPUT_BOUND)  # finite in float32
        self.fill = torch.as_tensor(fill, dtype=torch.float32).to(source.device)
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
            "X.dropna(how='all') for a DataFrame or X[~np.isnan(X).all(axis=1)] for "
            "an array."
        )


# ------------------------------------------------------------ categories
# A categorical column enters the network as one-hot inputs (one slot per
# category kept) and leaves it as logits of a softmax head over the same
# slots.  Upstream of the network it travels as one float column of codes:
# the slot index, NaN for a missing entry and UNSEEN for a category that
# training never saw.  Numeric columns come first in the network's columns,
# then the categorical columns' slots, column after column.
UNSEEN = -1.0

# Logit given to the padding slots of short groups: exp() of it is 0 in
# float32, so padding never takes probability mass.
PAD_LOGIT = -1e9

# Dtype kinds of DataFrame columns that "from_dtype" takes as categorical,
# besides pandas' category and string dtypes: object.
CATEGORICAL_DTYPE_KINDS = ("O",)


def categorical_mask(X, categorical_features, feature_names=None):
    """The boolean mask of ``X``'s categorical columns, or None if none.

    ``categorical_features`` follows scikit-learn's conventions (as in
    ``HistGradientBoostingClassifier``): "from_dtype" takes a DataFrame's
    ``category``, ``object`` and ``string`` columns, a list of names or
    indices or a boolean mask names them, None declares none.
    """
    if categorical_features is None:
        return None
    dtypes = getattr(X, "dtypes", None)
    is_frame = hasattr(dtypes, "items")
    if sp.issparse(X):
        if isinstance(categorical_features, str) and categorical_features == "from_dtype":
            return None
        if len(np.atleast_1d(np.asarray(categorical_features, dtype=object))) == 0:
            return None
        raise ValueError(
            f"categorical_features={categorical_features!r} declares categorical columns, "
            "but X is a sparse matrix, which holds numbers only. Pass a pandas DataFrame "
            "(or a dense array) to use categorical columns, or categorical_features=None."
        )
    if isinstance(categorical_features, str):  # "from_dtype"
        if not is_frame:
            return None
        mask = np.array([_is_categorical(X[name], dtype) for name, dtype in dtypes.items()])
        return mask if mask.any() else None
    n_features = X.shape[1] if hasattr(X, "shape") and len(X.shape) == 2 else None
    if n_features is None:
        X = np.asarray(X, dtype=object)
        if X.ndim != 2:
            return None  # validate_data explains the shape
        n_features = X.shape[1]
    names = list(X.columns) if is_frame else None
    entries = np.atleast_1d(np.asarray(categorical_features, dtype=object))
    mask = np.zeros(n_features, dtype=bool)
    if entries.size == 0:
        return None
    if all(isinstance(e, (bool, np.bool_)) for e in entries):
        if entries.size != n_features:
            raise ValueError(
                f"categorical_features is a boolean mask of length {entries.size}, but X "
                f"has {n_features} columns; pass one entry per column."
            )
        mask[:] = entries.astype(bool)
    elif all(isinstance(e, str) for e in entries):
        if names is None:
            raise ValueError(
                f"categorical_features={list(entries)!r} names columns, but X has no "
                "column names; pass a pandas DataFrame, or column indices."
            )
        unknown = [e for e in entries if e not in names]
        if unknown:
            raise ValueError(
                f"categorical_features names {unknown!r}, which are not columns of X; "
                f"its columns are {names!r}."
            )
        mask[[names.index(e) for e in entries]] = True
    elif all(isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in entries):
        bad = [int(e) for e in entries if not 0 <= e < n_features]
        if bad:
            raise ValueError(
                f"categorical_features holds indices {bad}, outside the {n_features} "
                f"columns of X (0 to {n_features - 1})."
            )
        mask[entries.astype(int)] = True
    else:
        raise ValueError(
            f"categorical_features={categorical_features!r} must be 'from_dtype', None, "
            "a list of column names, a list of column indices or a boolean mask."
        )
    return mask if mask.any() else None


# What pandas infers for object columns of numbers only: those stay numeric,
# as scikit-learn converts them (complex ones get the usual error).
NUMBERS = {"integer", "floating", "mixed-integer-float", "decimal", "complex", "empty"}


def _is_categorical(column, dtype):
    """Whether "from_dtype" takes a DataFrame column as categorical: pandas
    category and string columns (Arrow-backed ones too), and object columns
    not made of numbers."""
    if isinstance(dtype, (pd.CategoricalDtype, pd.StringDtype)):
        return True
    if isinstance(dtype, pd.ArrowDtype):
        return _is_arrow_text(dtype.pyarrow_dtype)
    if getattr(dtype, "kind", None) not in CATEGORICAL_DTYPE_KINDS:
        return False
    if isinstance(column, pd.DataFrame):  # duplicated names: look at the first
        column = column.iloc[:, 0]
    return pd.api.types.infer_dtype(column, skipna=True) not in NUMBERS


def _is_arrow_text(arrow_type):
    """Whether a pyarrow type holds strings or dictionary-encoded categories."""
    import pyarrow as pa  # present: pandas made an ArrowDtype

    types = pa.types
    if types.is_dictionary(arrow_type):
        return True
    return any(
        check(arrow_type)
        for check in (
            types.is_string,
            types.is_large_string,
            getattr(types, "is_string_view", lambda t: False),
        )
    )


def _column(X, j):
    """Column ``j`` of a DataFrame or 2-D array, as a 1-D object array."""
    if hasattr(X, "iloc"):
        return X.iloc[:, j].to_numpy(dtype=object, na_value=np.nan)
    return np.asarray(X[:, j], dtype=object)


def _ordered_uniques(column, dtype):
    """The distinct observed values of a column, in the dtype's order for a
    pandas categorical, else sorted (by type, then text, if incomparable)."""
    uniques = pd.unique(column)
    if isinstance(dtype, pd.CategoricalDtype):
        order = {c: i for i, c in enumerate(dtype.categories)}
        return np.array(sorted(uniques, key=lambda v: order.get(v, len(order))), dtype=object)
    try:
        return np.array(sorted(uniques), dtype=object)
    except TypeError:
        return np.array(sorted(uniques, key=lambda v: (type(v).__name__, str(v))), dtype=object)


class Categories:
    """The categories of a table's categorical columns, fitted once.

    Parameters
    ----------
    mask : ndarray of bool, shape (n_features,)
        Which of the user's columns are categorical.
    seen : list of ndarray
        Per categorical column, every category of the training data.
    slots : list of ndarray of int
        The network slot of each seen category: its own, or the shared slot
        of the infrequent ones when ``max_categories`` pooled them.
    representatives : list of ndarray
        Per categorical column, the category each slot decodes to (the
        pool's most frequent member for the pool).
    dtypes : list
        The original dtype of each categorical column (for the way back).
    """

    def __init__(self, mask, seen, slots, representatives, dtypes):
        self.mask = np.asarray(mask, dtype=bool)
        self.seen = seen
        self.slots = slots
        self.representatives = representatives
        self.dtypes = dtypes
        self.sizes = np.array([int(s.max()) + 1 for s in slots], dtype=np.int64)
        # Training counts per slot, updated with every training chunk.
        self.counts = [np.zeros(k) for k in self.sizes]

    @property
    def columns(self):
        return np.flatnonzero(self.mask)

    @property
    def numeric(self):
        return np.flatnonzero(~self.mask)

    @classmethod
    def fit(cls, X, mask, max_categories, feature_names=None):
        """Find the categories of ``X``'s columns in ``mask``.

        With ``max_categories``, a column with more categories keeps the
        ``max_categories - 1`` most frequent ones (ties: the first in order)
        and pools the others into one slot, as ``OneHotEncoder`` does.
        """
        seen, slots, representatives, dtypes, never = [], [], [], [], []
        frame_dtypes = list(X.dtypes) if hasattr(X, "dtypes") else None
        for j in np.flatnonzero(mask):
            dtype = frame_dtypes[j] if frame_dtypes is not None else np.dtype(object)
            column = _column(X, j)
            observed = column[~pd.isna(column)]
            if observed.size == 0:
                never.append(j)
                continue
            values = _ordered_uniques(observed, dtype)
            slot = np.arange(len(values))
            if max_categories is not None and len(values) > max_categories:
                counts = pd.Index(values).get_indexer(observed)
                counts = np.bincount(counts, minlength=len(values))
                by_count = np.argsort(-counts, kind="stable")
                slot = np.full(len(values), max_categories - 1)
                slot[np.sort(by_count[: max_categories - 1])] = np.arange(max_categories - 1)
            representative = np.empty(int(slot.max()) + 1, dtype=object)
            representative[slot] = values
            if max_categories is not None and len(values) > max_categories:
                # The pool's stand-in on the way back: its most frequent member.
                representative[-1] = values[by_count[max_categories - 1]]
            seen.append(values)
            slots.append(slot)
            representatives.append(representative)
            dtypes.append(dtype)
        if never:
            raise _never_observed(never, feature_names)
        return cls(mask, seen, slots, representatives, dtypes)

    def encode(self, X):
        """``X`` as one float64 array: numeric columns as numbers, categorical
        ones as slot codes (NaN missing, ``UNSEEN`` never seen in training)."""
        n_rows = X.shape[0]
        out = np.empty((n_rows, len(self.mask)), dtype=np.float64)
        numeric = self.numeric
        if numeric.size:
            part = X.iloc[:, numeric] if hasattr(X, "iloc") else np.asarray(X)[:, numeric]
            check_numeric(part)
            with np.errstate(over="ignore", invalid="ignore"):
                out[:, numeric] = check_array(
                    part, dtype=np.float64, ensure_all_finite="allow-nan", input_name="X"
                )
        for j, seen, slot in zip(self.columns, self.seen, self.slots):
            column = _column(X, j)
            position = pd.Index(seen).get_indexer(column)
            codes = np.where(position >= 0, slot[position], UNSEEN).astype(np.float64)
            codes[pd.isna(column)] = np.nan
            out[:, j] = codes
        return out

    def count(self, codes):
        """Add the training rows' codes (as :meth:`encode` gives) to the counts."""
        for i, j in enumerate(self.columns):
            column = codes[:, j]
            kept = column[column >= 0].astype(np.int64)
            self.counts[i] = self.counts[i] + np.bincount(kept, minlength=self.sizes[i])

    def decode(self, codes):
        """Slot codes back to categories: one object array per categorical
        column; the pool of infrequent categories decodes to its most
        frequent member."""
        return [
            representative[column.astype(np.int64)]
            for representative, column in zip(self.representatives, codes.T)
        ]

    def units(self):
        """Each categorical column's error unit: the entropy (in nats) of its
        training distribution over slots, or 1 for a column with one level."""
        units = []
        for counts in self.counts:
            p = counts[counts > 0] / max(counts.sum(), 1)
            entropy = float(-(p * np.log(p)).sum())
            units.append(entropy if entropy > 0 else 1.0)
        return np.array(units)

    def frequencies(self):
        """The training share of each slot, all columns' slots in a row: the
        network's input for a missing or unseen category."""
        return np.concatenate([c / max(c.sum(), 1) for c in self.counts])


def _index(positions, like):
    """``positions`` as a long tensor on the device of tensor ``like``."""
    return torch.as_tensor(positions, dtype=torch.long, device=like.device)


class CategoricalHeads:
    """The softmax heads of the categorical columns, computed all at once.

    The network's outputs for the categorical columns are logits, one per
    slot, column after column behind the ``n_numeric`` numeric outputs.
    Columns have different numbers of slots; here they are gathered into a
    ``(..., columns, max_slots)`` block, short columns padded with a logit
    of ``PAD_LOGIT`` (probability 0), so that every column's softmax, cross
    entropy and surprise costs a few kernels whatever the number of columns.

    Parameters
    ----------
    categories : Categories
        The fitted categories, with their training counts.
    """

    def __init__(self, categories):
        sizes = categories.sizes
        total, widest = int(sizes.sum()), int(sizes.max())
        self.n_numeric = len(categories.numeric)
        self.starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        index = np.full((len(sizes), widest), total, dtype=np.int64)
        for i, (start, size) in enumerate(zip(self.starts, sizes)):
            index[i, :size] = start + np.arange(size)
        self.shape = index.shape
        self.index = torch.as_tensor(index.ravel())
        self.padding = torch.as_tensor(index == total)
        # Cross entropies are in units of each column's training entropy.
        self.weights = torch.as_tensor(1.0 / categories.units(), dtype=torch.float32)
        counts = np.array([c.sum() for c in categories.counts])
        self.unseen_floor = torch.as_tensor(np.log(counts + 1.0), dtype=torch.float32)

    @property
    def n_columns(self):
        """The number of user columns: numeric plus categorical."""
        return self.n_numeric + self.shape[0]

    def observed_columns(self, observed, target):
        """How many user columns a batch observes in all, from its mask over
        the network's columns (a 0-d tensor), or for ``observed=None`` all of
        the ``target`` batch's (a float)."""
        if observed is None:
            return float(len(target) * self.n_columns)
        n = self.n_numeric
        categorical = observed.index_select(1, _index(n + self.starts, observed))
        return observed[:, :n].sum() + categorical.sum()

    def _grouped(self, values, pad):
        """``(..., slots)`` -> ``(columns, max_slots, N)``, padded with ``pad``,
        ``N`` the leading entries (members times rows) in order.

        Slots first: each column's softmax then reduces over a middle
        dimension, vectorized across ``N``, about ten times faster on a
        CPU than over a short last dimension.
        """
        flat = values.reshape(-1, values.shape[-1])
        slots = torch.cat([flat.t(), flat.new_full((1, len(flat)), pad)])
        grouped = slots.index_select(0, self.index.to(values.device))
        return grouped.view(*self.shape, len(flat))

    def log_probabilities(self, logits):
        """Log-softmax of each column's logits ``(..., slots)``:
        ``(columns, max_slots, N)``."""
        return torch.log_softmax(self._grouped(logits, PAD_LOGIT), dim=1)

    def cross_entropy(self, output, target, observed):
        """``(sum, count)`` of the columns' cross entropies over a flat batch.

        ``output`` and ``target`` are ``(rows, inputs)``: logits and one-hot
        slots (a missing entry's target, the training shares, is masked out
        by ``observed``).  Each entry is divided by its column's entropy.
        """
        n = self.n_numeric
        log_p = self.log_probabilities(output[:, n:])
        terms = (self._grouped(target[:, n:], 0.0) * log_p).sum(dim=1)  # (columns, rows)
        terms = terms * -self.weights.to(output.device)[:, None]
        if observed is None:
            return terms.sum(), terms.numel()
        kept = observed.index_select(1, _index(n + self.starts, observed))
        return (terms * kept.t()).sum(), kept.sum()

    def surprise(self, recon, codes):
        """``-log p`` of each row's category per column, ``(..., rows, columns)``.

        ``recon`` is ``(..., rows, inputs)`` (members first for an
        ensemble); ``codes`` are the slot codes ``(rows, columns)``.  A
        category unseen in training gets the largest surprise of any slot
        of its column, and at least ``log(n + 1)``.  Entries of missing
        codes are meaningless (the caller masks them).
        """
        log_p = self.log_probabilities(recon[..., self.n_numeric :])  # (columns, slots, N)
        repeats = log_p.shape[-1] // len(codes)  # members
        codes = codes.t().repeat(1, repeats)  # (columns, N), rows within members
        slot = torch.nan_to_num(codes, nan=0.0).clamp(min=0).long()
        picked = -log_p.gather(1, slot.unsqueeze(1)).squeeze(1)
        padding = self.padding.to(recon.device).unsqueeze(-1)
        worst = (-log_p).masked_fill(padding, 0.0).amax(dim=1)
        worst = worst.maximum(self.unseen_floor.to(recon.device)[:, None])
        errors = torch.where(codes == UNSEEN, worst, picked)
        return errors.t().reshape(*recon.shape[:-1], len(errors))


class BoundTable:
    """A :class:`ColumnMap` with categorical columns, on one source.

    Calling it on raw rows (numeric values and slot codes, see
    :meth:`Categories.encode`) returns ``(z, observed)`` like
    :class:`BoundColumns`: the scaled numeric columns, then each
    categorical column's one-hot slots.  A missing category, or one unseen
    in training, enters as the column's training shares of its slots, and
    its slots are masked out of the loss (``observed`` 0).
    """

    def __init__(self, columns, source):
        cats = columns.categories
        numeric = ColumnMap(
            *(
                a[cats.numeric]
                for a in (columns.center, columns.scale, columns.error_scale, columns.fill)
            )
        )
        self.numeric = BoundColumns(numeric, source)
        self.missing = source.missing
        device = source.device
        self.numeric_index = torch.as_tensor(cats.numeric, device=device)
        self.categorical_index = torch.as_tensor(cats.columns, device=device)
        self.sizes = torch.as_tensor(cats.sizes, device=device)
        self.starts = torch.as_tensor(columns.heads.starts, device=device)
        self.shares = torch.as_tensor(cats.frequencies(), dtype=torch.float32, device=device)

    def __call__(self, raw):
        z, observed = self.numeric(raw.index_select(1, self.numeric_index))
        codes = raw.index_select(1, self.categorical_index)
        known = (codes >= 0).to(torch.float32)  # NaN and UNSEEN compare False
        slots = torch.nan_to_num(codes, nan=0.0).clamp(min=0).long() + self.starts
        one_hot = z.new_zeros((len(raw), len(self.shares))).scatter_(1, slots, known)
        unknown = bool((known == 0).any())
        if unknown:
            one_hot.addcmul_((1.0 - known).repeat_interleave(self.sizes, dim=1), self.shares)
        z = torch.cat([z, one_hot], dim=1)
        if observed is None and not unknown:
            return z, None
        if observed is None:
            observed = z.new_ones((len(raw), len(self.numeric_index)))
        return z, torch.cat([observed, known.repeat_interleave(self.sizes, dim=1)], dim=1)
