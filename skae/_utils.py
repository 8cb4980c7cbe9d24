"""Helpers without estimator state: running statistics, threads, seeding."""

import os
import threading
from contextlib import contextmanager

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn import get_config

__all__ = [
    "RunningStats",
    "check_numeric",
    "iter_chunks",
    "output_format",
    "torch_threads",
    "thread_budget",
]

# Rows per statistics chunk: its float64 copy is the only memory fit adds
# beyond the input (8192 x 100 features = 6 MiB), and it is faster than 65536.
CHUNK_ROWS = 8192


def iter_chunks(X, chunk_rows=CHUNK_ROWS):
    """Yield dense float64 row chunks of a dense or sparse matrix."""
    for start in range(0, X.shape[0], chunk_rows):
        chunk = X[start : start + chunk_rows]
        if sp.issparse(chunk):
            chunk = chunk.toarray()
        yield np.asarray(chunk, dtype=np.float64)


class RunningStats:
    """Per-feature count, mean, variance, min and max, updated by chunks.

    Chan's parallel update in float64, so ``fit`` and a stream of
    ``partial_fit`` chunks give the same statistics in any chunk order
    (up to rounding), and a 1e6 x 100 float32 input never needs a float64
    copy.  Missing entries (NaN) are left out: ``count`` holds each
    feature's number of observed entries, ``n`` the number of rows.
    """

    def __init__(self, n_features):
        self.n = 0
        self.count = np.zeros(n_features, dtype=np.int64)
        self.mean = np.zeros(n_features)
        self.m2 = np.zeros(n_features)
        self.min = np.full(n_features, np.inf)
        self.max = np.full(n_features, -np.inf)

    def __setstate__(self, state):
        # Statistics pickled before missing values were supported.
        state.setdefault("count", np.full(len(state["mean"]), state["n"], dtype=np.int64))
        self.__dict__.update(state)

    def update(self, X):
        """Add the rows of ``X`` (dense or sparse).

        Values near float64's limits overflow quietly to inf or NaN here; the
        estimator checks the statistics and says what to do.
        """
        for chunk in iter_chunks(X):
            low, high = chunk.min(axis=0), chunk.max(axis=0)
            with np.errstate(over="ignore", invalid="ignore"):
                if np.isnan(low).any():  # NaN propagates through min: holes
                    n_b, mean_b, m2_b = _observed_moments(chunk)
                    low, high = np.fmin.reduce(chunk, axis=0), np.fmax.reduce(chunk, axis=0)
                else:
                    n_b = chunk.shape[0]
                    mean_b = chunk.mean(axis=0)
                    m2_b = ((chunk - mean_b) ** 2).sum(axis=0)
                n = self.count + n_b
                # Columns still without any observed entry stay at zero.
                seen = np.maximum(n, 1)
                delta = mean_b - self.mean
                self.mean = self.mean + delta * (n_b / seen)
                self.m2 = self.m2 + m2_b + delta**2 * (self.count * n_b / seen)
            self.n += chunk.shape[0]
            self.count = n
            # fmin/fmax keep the running value where a column is all NaN.
            self.min = np.fmin(self.min, low)
            self.max = np.fmax(self.max, high)
        return self

    @property
    def std(self):
        return np.sqrt(self.m2 / np.maximum(self.count, 1))


def _observed_moments(chunk):
    """Per-column count, mean and sum of squared deviations of the non-NaN
    entries of ``chunk`` (0 for a column without any)."""
    observed = ~np.isnan(chunk)
    count = observed.sum(axis=0)
    mean = np.where(observed, chunk, 0.0).sum(axis=0) / np.maximum(count, 1)
    m2 = (np.where(observed, chunk - mean, 0.0) ** 2).sum(axis=0)
    return count, mean, m2


def safe_scale(scale, reference):
    """Replace zero scales, or ones that are rounding noise next to ``reference``, by 1.

    The threshold is relative to the column's magnitude only, so a column of
    tiny but genuinely varying values (1e-30 and 2e-30) keeps its scale.
    """
    scale = np.asarray(scale, dtype=np.float64).copy()
    tiny = ~(scale > 10 * np.finfo(np.float64).eps * np.abs(reference))
    scale[tiny] = 1.0
    return scale


def missing_as_nan(values):
    """An object array or column with pandas' missing markers (None,
    ``pd.NA``, ``NaT``) as NaN, so that numbers among them convert."""
    values = np.asarray(values, dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = np.where(missing, np.nan, values)
    return values


# How to declare a column categorical, for the errors about non-numbers.
HOW = (
    "(a list of its names or indices; a DataFrame's category and string columns, "
    "and its object columns that hold more than numbers, are categorical by default)"
)


def check_numeric(X):
    """Raise a clear error when ``X`` holds strings, complex numbers or dates.

    ``validate_data`` would otherwise convert numeric strings silently or
    fail with numpy's bare "could not convert string to float".  Object
    columns of numbers pass, as in scikit-learn; they are converted later.
    """
    if hasattr(getattr(X, "dtypes", None), "items"):  # a pandas DataFrame
        columns = [(f"Column {name!r} of X", X[name], dtype) for name, dtype in X.dtypes.items()]
    elif sp.issparse(X):
        columns = [("X", None, X.dtype)]  # its values are checked by validate_data
    else:
        try:
            X = np.asarray(X)
        except (TypeError, ValueError):
            return  # ragged lists and the like: validate_data explains
        columns = [("X", X, X.dtype)]
    for where, values, dtype in columns:
        kind = getattr(dtype, "kind", None)
        if kind == "c":
            raise ValueError(
                f"Complex data not supported: {where} holds complex numbers ({dtype}). "
                "Pass its real part, or real and imaginary parts as separate columns."
            )
        if kind in ("U", "S", "M", "m"):
            raise ValueError(
                f"{where} holds {'dates or durations' if kind in 'Mm' else 'strings'} "
                f"(dtype {dtype}), but autoencoders need numbers. Convert it to "
                f"floats first, or declare it categorical with categorical_features {HOW}."
            )
        if kind == "O" and values is not None:
            try:
                np.asarray(missing_as_nan(values), dtype=np.float64)
            except (TypeError, ValueError) as exc:
                if any(isinstance(v, complex) for v in np.ravel(np.asarray(values, dtype=object))):
                    raise ValueError(
                        f"Complex data not supported: {where} holds complex numbers. "
                        "Pass its real part, or real and imaginary parts as separate columns."
                    ) from None
                # TypeError for a dict and the like, as scikit-learn's checks expect.
                raise type(exc)(
                    f"{where} holds values that are not numbers ({exc}). Convert it to "
                    f"floats first, or declare it categorical with categorical_features {HOW}."
                ) from None


# torch's thread count is global to the process.  While any skae call has it
# set, the others see the count the user set before the first of them, and
# the last one out restores it: concurrent calls from several threads leave
# it as they found it.
_THREADS_LOCK = threading.Lock()
_THREADS = {"depth": 0, "before": None}


def thread_budget():
    """Threads this process may use: torch's setting, capped by CPU affinity.

    ``torch.get_num_threads()`` already honours ``OMP_NUM_THREADS``, which
    joblib's loky workers and dask workers set, so a parallel grid search
    never oversubscribes.  Inside a skae call, the setting from before the
    call counts.  It never depends on what else runs on the machine.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    with _THREADS_LOCK:
        setting = _THREADS["before"] if _THREADS["depth"] else torch.get_num_threads()
    return max(1, min(setting, cores))


@contextmanager
def torch_threads(n_threads):
    """Run a block with ``n_threads`` intra-op threads, then restore.

    Safe to enter from several Python threads at once: the first sets the
    count and the last restores the user's setting.
    """
    with _THREADS_LOCK:
        if _THREADS["depth"] == 0:
            _THREADS["before"] = torch.get_num_threads()
            if n_threads != _THREADS["before"]:
                torch.set_num_threads(n_threads)
        _THREADS["depth"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS["depth"] -= 1
            if _THREADS["depth"] == 0 and torch.get_num_threads() != _THREADS["before"]:
                torch.set_num_threads(_THREADS["before"])


def output_format(estimator):
    """The container ``set_output`` (or the global config) asks for."""
    config = getattr(estimator, "_sklearn_output_config", {})
    return config.get("transform", get_config()["transform_output"])
