"""``BaseAutoencoder``: validation, scaling, the skorch net and batched scoring.

The two public estimators are thin subclasses.  Data takes two paths:

- training: ``fit`` -> ``validate_data`` -> running statistics -> column
  map (``_columns.py``) -> scaled batches sliced from one tensor, holes
  filled and masked -> skorch ``AutoencoderNet`` -> registry loss over the
  observed entries -> optimizer step;
- scoring: ``score_samples`` -> ``check_is_fitted`` -> ``validate_data``
  -> the same column map -> module under ``torch.inference_mode`` in
  fixed-size batches -> per-feature squared errors in standardized units,
  averaged over each row's observed entries.
"""

import copy
import inspect
import math
import os
import sys
import textwrap
import threading
from numbers import Integral, Real

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from torch import nn

from ._columns import INPUT_BOUND, Categories, ColumnMap, as_target, categorical_mask
from ._losses import LOSSES, ReconstructionLoss, get_loss_spec
from ._net import (
    METRICS,
    AutoencoderNet,
    HoldOut,
    RowSource,
    ScaledRows,
    SliceIterator,
    TrainingMonitor,
    TrimRows,
    all_finite,
)
from ._networks import (
    ACTIVATIONS,
    Autoencoder,
    UserAutoencoder,
    build_user_members,
    check_user_module,
    evaluation,
)
from ._progress import scoring_progress
from ._utils import (
    RunningStats,
    check_numeric,
    missing_as_nan,
    output_format,
    thread_budget,
    torch_threads,
)
from ._validation import Count, check_device, warn_at_caller

# Rows per scoring batch.  Every batch is padded to exactly this many rows,
# so a row's result never depends on which other rows are scored with it.
INFERENCE_BATCH = 2048

# Errors that overflowed float32 are reported as this (scaled inputs are
# clipped to INPUT_BOUND, see skae/_columns.py).
ERROR_BOUND = 1e30

# Below this many multiply-adds per batch one thread is never slower
# (benchmarks/bench_threads.py: a 40-64-32 network at batch 256, 2.4e6, ran
# 1.2x slower on two threads even on an idle machine, and 5x on a busy one).
MULTITHREAD_WORK = 1e7

OPTIMIZERS = {
    "adam": (torch.optim.Adam, {"fused": True}),
    "adamw": (torch.optim.AdamW, {"fused": True}),
    "sgd": (torch.optim.SGD, {"fused": True, "momentum": 0.9, "nesterov": True}),
    "rmsprop": (torch.optim.RMSprop, {"foreach": True}),
}


# Held while a fit draws from torch's process-wide random generator.
_TRAINING_LOCK = threading.RLock()


def _available_memory(device):
    """Bytes of memory available on ``device`` now, or None if unknown."""
    try:
        if device.type == "cuda":
            return torch.cuda.mem_get_info(device)[0]
        if device.type == "cpu":
            # Linux's MemAvailable counts reclaimable caches; free pages elsewhere.
            if os.path.exists("/proc/meminfo"):
                with open("/proc/meminfo") as f:
                    for line in f:
                        if line.startswith("MemAvailable:"):
                            return int(line.split()[1]) * 1024
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError, RuntimeError):
        pass
    return None


class BaseAutoencoder(BaseEstimator):
    """Shared machinery of skae's estimators.  Not for direct use."""

    _parameter_constraints = {
        "n_components": [Count(Integral, 1, None, closed="left"), None],
        "hidden_layer_sizes": ["array-like", Count(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "loss": [StrOptions(set(LOSSES)), callable],
        "huber_delta": [Interval(Real, 0, None, closed="neither")],
        "sparsity_weight": [Interval(Real, 0, None, closed="left")],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "kl_weight": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS))],
        "learning_rate_init": [Interval(Real, 0, 10, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Count(Integral, 1, None, closed="left")],
        "max_iter": [Count(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Count(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "scaling": [StrOptions({"auto", "standard", "minmax"}), None],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "module": [None, nn.Module, type],
        "module_params": [None, dict],
        "categorical_features": [StrOptions({"from_dtype"}), "array-like", None],
        "max_categories": [Count(Integral, 2, None, closed="left"), None],
    }

    # ------------------------------------------------------------------ fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X``.

        All or nothing: if ``fit`` raises (bad data, a loss that fails,
        divergence before the first epoch, ``Ctrl-C`` after training), the
        estimator is left exactly as it was before the call.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.  Sparse CSR/CSC input is densified one batch at a
            time.  NaN (and pandas NA) entries are missing values: they are
            left out of the loss and of the scaling statistics; inf raises.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        continuing = self.warm_start and hasattr(self, "net_")
        stage = self._stage(keep_fitted=continuing)
        stage._fit(X, continuing)
        return self._commit(stage)

    def _fit(self, X, continuing):
        X = self._validate_X(X, reset=not continuing)
        if continuing:
            self._check_net_unchanged()
        else:
            self._update_stats(X, first=True)
        self._train(X, epochs=self._epoch_budget(X.shape[0]), fresh=not continuing, streaming=False)
        self._after_fit(X)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one epoch on a chunk of rows.

        The first call builds the model; later calls check the number and
        names of features.  The scaling statistics are updated with every
        chunk (as ``StandardScaler.partial_fit`` does), so their final
        values do not depend on the order of the chunks.  A chunk that is
        rejected changes nothing.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            A chunk of training rows; NaN entries are missing values.  The
            first chunk must observe every column at least once.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The estimator, trained one more epoch.
        """
        first = not hasattr(self, "net_")
        stage = self._stage(keep_fitted=not first)
        stage._partial_fit(X, first)
        return self._commit(stage)

    def _partial_fit(self, X, first):
        X = self._validate_X(X, reset=first)
        if not first:
            self._check_net_unchanged()
        self._update_stats(X, first)
        self._train(X, epochs=1, fresh=first, streaming=True)
        self._after_fit(X)

    # A call that changes fitted state works on a copy (the stage) and, only
    # once it has succeeded, moves the copy's state into the estimator.
    # Fitted state is every attribute ending in "_" (scikit-learn's rule,
    # private ones included) plus _n_features_out; parameters, set_output's
    # configuration and what meta-estimators attach are shared, never copied.
    def _fitted_keys(self):
        params = set(self._get_param_names())
        return [
            k
            for k in vars(self)
            if k not in params
            and (k.endswith("_") and not k.startswith("__"))
            or k == "_n_features_out"
        ]

    def _stage(self, keep_fitted):
        """A working copy: parameters shared, fitted state deep-copied
        (``keep_fitted``) or left out (a fresh fit)."""
        stage = copy.copy(self)
        fitted = self._fitted_keys()
        for key in fitted:
            delattr(stage, key)
        if keep_fitted:
            # Parameter objects the fitted state refers to (a module
            # instance, a callable loss in _built_with_) stay the caller's.
            memo = {id(v): v for v in self.get_params(deep=False).values()}
            state = copy.deepcopy({k: getattr(self, k) for k in fitted}, memo)
            vars(stage).update(state)
        return stage

    def _commit(self, stage):
        """Take over the stage's fitted state; return ``self``."""
        for key in self._fitted_keys():
            delattr(self, key)
        vars(self).update({k: getattr(stage, k) for k in stage._fitted_keys()})
        return self

    def _after_fit(self, X):
        """Hook for subclasses, called with the validated training data."""

    def _epoch_budget(self, n_rows):
        """Epochs one call to ``fit`` may train on ``n_rows`` rows."""
        return self.max_iter

    def _trim_schedule(self, epochs):
        """``(fraction, after_epoch)`` of training rows ``fit`` drops, or None."""
        return None

    def _warns_at_max_iter(self):
        """Whether ending at max_iter, not at the stopping rule, deserves a
        ConvergenceWarning."""
        return True

    # ----------------------------------------------------------- validation
    def _validate_X(self, X, reset):
        """``X`` as a numeric array (float32 or float64), rows by columns.

        With categorical columns (``categorical_features``, fixed by the
        first fit), a float64 array in which those columns hold the slot
        codes of their categories (see ``skae/_columns.py``).
        """
        if reset:
            mask = categorical_mask(X, self.categorical_features)
            categories = None
        else:
            categories = getattr(self, "_categories_", None)
            mask = None if categories is None else categories.mask
        if mask is None:
            X = self._validate_numeric(X, reset)
            if reset:
                self._categories_ = None
            return X
        # Names and number of columns as validate_data checks them; the
        # values are the column map's to convert.
        if sp.issparse(X):
            raise ValueError(
                "X is a sparse matrix, which holds numbers only, but this model was "
                "fitted with categorical columns; pass a DataFrame (or a dense array) "
                "with the same columns."
            )
        if not hasattr(X, "iloc") and not isinstance(X, np.ndarray):
            X = np.asarray(X, dtype=object)
        if X.ndim != 2:  # scikit-learn's message for 1-D, scalar or 3-D input
            check_array(X, dtype=None, ensure_all_finite=False, input_name="X")
        validate_data(self, X, reset=reset, skip_check_array=True)
        if X.shape[0] < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
            )
        if reset:
            names = getattr(self, "feature_names_in_", None)
            categories = Categories.fit(X, mask, self.max_categories, names)
            self._categories_ = categories
        return categories.encode(X)

    def _validate_numeric(self, X, reset):
        check_numeric(X)
        X = _object_missing_as_nan(X)
        # scikit-learn's fast finiteness test sums X; for float32 values near
        # the top of their range that sum is inf - inf, which warns although
        # every value is finite.  The element-wise test that follows decides.
        # NaN (and pandas NA, which becomes NaN) is a missing value; inf
        # is still an error.
        with np.errstate(over="ignore", invalid="ignore"):
            X = validate_data(
                self,
                X,
                reset=reset,
                accept_sparse=("csr", "csc"),
                dtype=(np.float64, np.float32),
                order="C",
                ensure_all_finite="allow-nan",
            )
        return X

    # Fitted scaling: the column map owns it, these name its parts.
    @property
    def center_(self):
        return self._columns_.center

    @property
    def scale_(self):
        return self._columns_.scale

    @property
    def error_scale_(self):
        return self._columns_.error_scale

    @property
    def is_categorical_(self):
        categories = self._columns_.categories
        if categories is None:
            return np.zeros(self.n_features_in_, dtype=bool)
        return categories.mask.copy()

    @property
    def categories_(self):
        categories = self._columns_.categories
        return [] if categories is None else [seen.copy() for seen in categories.seen]

    def _n_inputs(self):
        """The network's width: numeric columns plus categorical slots."""
        return self._columns_.n_inputs

    def _n_activated(self):
        """How many leading outputs take the loss's output activation: the
        numeric columns' (categorical logits go to softmax heads), or None
        for all."""
        categories = self._columns_.categories
        return None if categories is None else len(categories.numeric)

    def __setstate__(self, state):
        # Pickled before categorical columns: the new parameters' defaults,
        # and a numeric-only fit.
        state.setdefault("categorical_features", "from_dtype")
        state.setdefault("max_categories", 64)
        if "net_" in state:
            state.setdefault("_categories_", None)
        built = state.get("_built_with_")
        if built is not None:  # what the network was built with: numeric columns
            built.setdefault("categorical_features", state["categorical_features"])
            built.setdefault("max_categories", state["max_categories"])
        if "center_" in state:  # pickled before the column map existed
            stats = state.get("_stats_")
            mean = stats.mean if stats is not None else state["center_"]
            center, scale = state.pop("center_"), state.pop("scale_")
            state["_columns_"] = ColumnMap(
                center, scale, state.pop("error_scale_"), (mean - center) / scale
            )
        super().__setstate__(state)

    def _n_components(self):
        if self.n_components is not None:
            return self.n_components
        return self._default_n_components(self._n_inputs())

    def _default_n_components(self, n_features):
        return 2

    def _hidden_layer_sizes(self):
        sizes = np.atleast_1d(np.asarray(self.hidden_layer_sizes, dtype=object))
        if sizes.size == 0:
            return ()
        if any(not isinstance(s, Integral) or isinstance(s, bool) or s < 1 for s in sizes.tolist()):
            raise ValueError(
                "hidden_layer_sizes must be a tuple of positive integers, got "
                f"{self.hidden_layer_sizes!r}; for example hidden_layer_sizes=(64, 32)."
            )
        return tuple(int(s) for s in sizes.tolist())

    def _device(self):
        return check_device(self.device)

    # -------------------------------------------------------------- scaling
    def _scaling_mode(self):
        if self.scaling == "auto":
            return "minmax" if get_loss_spec(self.loss).unit_interval else "standard"
        return self.scaling

    def _update_stats(self, X, first):
        """Add validated training rows to the statistics; refit the column map."""
        if first:
            self._stats_ = RunningStats(X.shape[1])
        self._stats_.update(X)
        if getattr(self, "_categories_", None) is not None:
            self._categories_.count(X)
        self._set_scaling()

    def _set_scaling(self):
        """Fit the column map (scaling, categories, missing values, error
        units) to the statistics."""
        stats = self._stats_
        categories = getattr(self, "_categories_", None)
        columns = ColumnMap.from_stats(
            stats, self._scaling_mode(), getattr(self, "feature_names_in_", None), categories
        )
        self._columns_ = columns
        numeric = slice(None) if categories is None else categories.numeric
        low = columns.to_scaled(stats.min)[numeric]
        high = columns.to_scaled(stats.max)[numeric]
        if get_loss_spec(self.loss).unit_interval and (
            np.min(low, initial=0.0) < 0 or np.max(high, initial=1.0) > 1
        ):
            raise ValueError(
                f"loss='bce' needs training data in [0, 1] after scaling, but with "
                f"scaling={self.scaling!r} it spans [{stats.min.min():.3g}, "
                f"{stats.max.max():.3g}]; use scaling='minmax' or 'auto', or another loss."
            )

    # ------------------------------------------------------------- training
    def _threads(self, batch_rows):
        """Thread policy: one thread for small work, the budget for big work.

        One thread unless a batch of ``batch_rows`` rows holds enough work
        to share (``MULTITHREAD_WORK`` multiply-adds, counted as twice the
        encoder's: encoder and mirrored decoder); then
        the budget: ``torch.get_num_threads()`` (which honours
        ``OMP_NUM_THREADS``) capped by the CPU affinity.  The choice depends
        only on the fitted network, the batch and the user's thread
        setting, never on what else runs on the machine, because 1 and 2
        threads round differently: the same ``random_state`` gives the same
        model under any load.
        """
        module = self.net_.module_
        encoder = getattr(module, "encoder", module)
        weights = sum(p.numel() for p in encoder.parameters() if p.dim() >= 2)
        if batch_rows * 2 * weights < MULTITHREAD_WORK:
            return 1
        return thread_budget()

    def _net_defining_params(self):
        """What the built network is made of; continuing cannot change these."""
        return {
            "n_components": self._n_components(),
            "hidden_layer_sizes": self._hidden_layer_sizes(),
            "activation": self.activation,
            "dropout": self.dropout,
            "loss": self.loss,
            "optimizer": self.optimizer,
            "scaling": self.scaling,
            "device": self._device(),
            "module": self.module,
            "module_params": self.module_params,
            "categorical_features": _comparable(self.categorical_features),
            "max_categories": self.max_categories,
        }

    def _check_net_unchanged(self):
        built = dict(self._built_with_)
        weights = next(self.net_.module_.parameters(), None)
        if weights is not None and weights.device.type != torch.device(built["device"]).type:
            # Loaded where the training device is missing (a CUDA model on a
            # CPU-only machine): the weights are where skorch mapped them.
            built["device"] = weights.device
        changed = {k: v for k, v in self._net_defining_params().items() if not _same(v, built[k])}
        if changed:
            now = ", ".join(f"{k}={v!r}" for k, v in changed.items())
            then = ", ".join(f"{k}={built[k]!r}" for k in changed)
            raise ValueError(
                f"The fitted network was built with {then}; warm_start=True and "
                f"partial_fit continue training it and cannot switch to {now}. "
                "Set warm_start=False and call fit to build a new network."
            )

    def _build_net(self, device, seed):
        spec = get_loss_spec(self.loss)
        optimizer, optimizer_kwargs = OPTIMIZERS[self.optimizer]
        if device.type not in ("cpu", "cuda"):
            optimizer_kwargs = {k: v for k, v in optimizer_kwargs.items() if k != "fused"}
        if self.module is None and self.module_params:
            raise ValueError(
                f"module_params={self.module_params!r} builds a user's module, but "
                "module=None selects the built-in network; pass module= (a class) too, "
                "or leave module_params=None."
            )
        if self.module is None:
            self._check_network_memory(spec, device)
        # Seeded before the module is built: a user's module class is
        # instantiated here, the built-in networks in initialize() below.
        torch.manual_seed(seed)
        module, module_params = self._module_spec(spec)
        net = AutoencoderNet(
            module=module,
            **{f"module__{k}": v for k, v in module_params.items()},
            criterion=ReconstructionLoss,
            criterion__spec=spec,
            criterion__huber_delta=self.huber_delta,
            criterion__sparsity_weight=self.sparsity_weight,
            criterion__kl_weight=self.kl_weight,
            criterion__heads=self._columns_.heads,
            optimizer=optimizer,
            lr=self.learning_rate_init,
            optimizer__weight_decay=self.weight_decay,
            **{f"optimizer__{k}": v for k, v in optimizer_kwargs.items()},
            batch_size=self.batch_size,
            iterator_train=SliceIterator,
            iterator_train__shuffle=True,
            iterator_valid=SliceIterator,
            iterator_valid__batch_size=INFERENCE_BATCH,
            train_split=None,
            # The trimmer runs first: it restores the full training rows
            # before the monitor checks the outputs on them.
            callbacks=[("trim", TrimRows()), ("monitor", TrainingMonitor())],
            noise_level=self.noise_level if spec.corrupts_input else 0.0,
            device=device,
            verbose=0,
        )
        torch.manual_seed(seed)
        return net.initialize()

    def _check_network_memory(self, spec, device):
        """A ValueError, before anything is allocated, when the built-in
        network's weights, gradients and optimizer state (4 copies of the
        weights, float32) exceed the memory available on ``device``."""
        sizes = [self._n_inputs(), *self._hidden_layer_sizes()]
        code = self._n_components() * (2 if spec.variational else 1)
        encoder = sum(a * b + b for a, b in zip(sizes, [*sizes[1:], code]))
        decoder = sum(a * b + b for a, b in zip([self._n_components(), *sizes[:0:-1]], sizes[::-1]))
        needed = 16 * getattr(self, "n_estimators", 1) * (encoder + decoder)
        available = _available_memory(device)
        if available is None or needed <= available:
            return
        members = f", n_estimators={self.n_estimators}" if hasattr(self, "n_estimators") else ""
        raise ValueError(
            f"The network needs about {needed / 2**30:.1f} GiB for its weights, gradients "
            f"and optimizer state, more than the {available / 2**30:.1f} GiB available on "
            f"{device} (hidden_layer_sizes={self.hidden_layer_sizes!r}, n_components="
            f"{self.n_components!r}{members}, {self._n_inputs()} inputs). Choose smaller sizes."
        )

    def _module_spec(self, spec):
        """The torch module class and its arguments; subclasses may change it."""
        if self.module is not None:
            return self._user_module(spec, n_members=1), {}
        return Autoencoder, {
            "n_features": self._n_inputs(),
            "n_components": self._n_components(),
            "hidden_layer_sizes": self._hidden_layer_sizes(),
            "activation": self.activation,
            "output_activation": spec.output_activation,
            "n_activated": self._n_activated(),
            "dropout": self.dropout,
            "variational": spec.variational,
        }

    def _user_module(self, spec, n_members):
        """The user's module(s) in skae's adapter, shapes checked on a probe batch."""
        members = build_user_members(
            self.module,
            self.module_params,
            n_features=self._n_inputs(),
            n_components=self._n_components(),
            n_members=n_members,
        )
        adapter = UserAutoencoder(
            members, spec.output_activation, spec.variational, self._n_activated()
        )
        check_user_module(adapter, self._n_inputs())
        return adapter

    def _update_net(self):
        """Apply the training parameters a warm start may change, in place."""
        spec = get_loss_spec(self.loss)
        net = self.net_
        # lr and optimizer__* are skorch virtual parameters: they update the
        # optimizer's parameter groups and keep its state.
        net.set_params(
            lr=self.learning_rate_init,
            optimizer__weight_decay=self.weight_decay,
            batch_size=self.batch_size,
        )
        net.noise_level = self.noise_level if spec.corrupts_input else 0.0
        net.criterion_.huber_delta = self.huber_delta
        net.criterion_.sparsity_weight = self.sparsity_weight
        net.criterion_.kl_weight = self.kl_weight
        if self._columns_.categories is not None:  # shares and units follow the counts
            net.criterion_.heads = self._columns_.heads

    def _train(self, X, epochs, fresh, streaming):
        device = self._device()
        # One seed per call: the same random_state repeats a fit exactly,
        # while warm starts and partial_fit chunks get fresh shuffles.
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        if not fresh:
            seed = (seed + 7919 * len(self.loss_curve_)) % np.iinfo(np.int32).max
        split = None
        if self.early_stopping and not streaming:
            n_valid = round(self.validation_fraction * X.shape[0])
            if n_valid < 1 or n_valid >= X.shape[0]:
                raise ValueError(
                    f"early_stopping=True with validation_fraction={self.validation_fraction} "
                    f"leaves {n_valid} of {X.shape[0]} rows for validation; it needs at "
                    "least one row on each side. Pass more rows or early_stopping=False."
                )
            split = HoldOut(self.validation_fraction, seed + 1)
        forked = [device.index or 0] if device.type == "cuda" else []
        # Weights, dropout masks and noise come from torch's one process-wide
        # generator: fits in threads of one process take turns, so that each
        # gets the model its random_state gives, whatever runs beside it.
        with _TRAINING_LOCK, torch.random.fork_rng(forked):
            if fresh:
                self.net_ = self._build_net(device, seed)
                self._built_with_ = self._net_defining_params()
                self.loss_curve_, self.validation_loss_curve_, self.history_ = [], [], []
                self.n_iter_ = 0
            else:
                torch.manual_seed(seed)
                self._update_net()
            net = self.net_
            net.iterator_train__seed = seed
            net.train_split = split
            trim = None if streaming else self._trim_schedule(epochs)
            fraction, after_epoch = trim if trim else (0.0, 0)
            net.set_params(
                callbacks__trim=TrimRows(fraction, after_epoch),
                callbacks__monitor=TrainingMonitor(
                    n_iter_no_change=None if streaming else self.n_iter_no_change,
                    tol=self.tol,
                    monitor="valid_loss" if split else "train_loss",
                    restore_best=split is not None,
                    verbose=self.verbose,
                    total_epochs=epochs,
                ),
            )
            history_start = len(net.history)
            data = ScaledRows(RowSource(X, device), self._columns_)
            with torch_threads(self._threads(min(X.shape[0], self.batch_size))):
                self._partial_fit_net(net, data, epochs)
        self._record_history(net, history_start, epochs, fresh, streaming, data)

    def _partial_fit_net(self, net, data, epochs):
        """skorch's partial_fit; a user's module that fails in training gets
        an error naming it (skae's own networks' errors pass unchanged)."""
        try:
            net.partial_fit(data, epochs=epochs)
        except (RuntimeError, ValueError, TypeError) as exc:
            if self.module is None:
                raise
            name = getattr(self.module, "__name__", type(self.module).__name__)
            batch = min(self.batch_size, len(data))
            last = len(data) % batch
            hint = (
                f"It must accept training batches of {batch} rows"
                + (f" and the last batch of each epoch, {last} row(s)" if last else "")
                + " in training mode"
            )
            if last == 1 or batch == 1:
                hint += (
                    "; layers such as nn.BatchNorm1d need at least 2 rows: choose a "
                    "batch_size that leaves no 1-row batch"
                )
            raise ValueError(
                f"module {name} failed while training: {type(exc).__name__}: {exc}. {hint}."
            ) from exc

    def _record_history(self, net, start, epochs, fresh, streaming, data):
        monitor = dict(net.callbacks_)["monitor"]
        rows = [row for row in net.history[start:] if math.isfinite(row.get("train_loss", np.nan))]
        rows = rows[: monitor.epochs_done]
        self.loss_curve_ = self.loss_curve_ + [row["train_loss"] for row in rows]
        self.validation_loss_curve_ = self.validation_loss_curve_ + [
            row["valid_loss"] for row in rows if "valid_loss" in row
        ]
        self.history_ = self.history_ + [
            {"epoch": self.n_iter_ + i + 1, **{k: row[k] for k in METRICS if k in row}}
            for i, row in enumerate(rows)
        ]
        self.n_iter_ += len(rows)
        if monitor.stop_reason == "diverged":
            advice = self._divergence_advice(net, data)
            if fresh and not rows:
                # The stage is discarded: the estimator stays as it was.
                raise ValueError(
                    "Training diverged: the loss or the network's outputs became "
                    f"infinite or NaN before any epoch could be kept; {advice}."
                )
            warn_at_caller(
                f"Training diverged after {len(rows)} epoch(s); the weights of the "
                f"last finite epoch were kept. To train further, {advice}.",
                ConvergenceWarning,
            )
        elif monitor.stop_reason is None and monitor.epochs_done < epochs:
            warn_at_caller(
                f"Training interrupted by the user after {monitor.epochs_done} "
                "epoch(s); the model trained so far is kept.",
                UserWarning,
            )
        elif (
            monitor.stop_reason is None
            and not streaming
            and epochs >= self.max_iter
            and self._warns_at_max_iter()
        ):
            warn_at_caller(
                f"Reached max_iter={self.max_iter} epochs before the loss stopped "
                f"improving by tol={self.tol:g}; increase max_iter to train longer.",
                ConvergenceWarning,
            )

    def _divergence_advice(self, net, data):
        """What to change after training diverged, from what went wrong.

        If the loss is not finite on finite outputs of the kept weights, the
        loss function is at fault, not the steps; otherwise the step size.
        """
        module = net.module_
        xb, observed = data.batch(slice(0, min(len(data), self.batch_size)))
        with evaluation(module), torch.no_grad():
            output = module(xb)
            target = as_target(xb, observed)
            loss = net.criterion_(output, target) if all_finite(output) else None
        if loss is not None and not torch.isfinite(loss).all():
            what = f"the callable loss {self.loss!r}" if callable(self.loss) else "the loss"
            return (
                f"{what} returned inf or NaN for finite network outputs; make it finite "
                "for every input (for example clamp before log or divide)"
            )
        steps = [f"learning_rate_init (now {self.learning_rate_init:g})"]
        if self.weight_decay > 0:
            steps.insert(int(self.weight_decay < 1), f"weight_decay (now {self.weight_decay:g})")
        if net.noise_level > 1:
            # Noise beyond the data's own spread (scaled units) is the likelier cause.
            steps.insert(0, f"noise_level (now {net.noise_level:g}, in the scaled data's units)")
        return "lower " + " or ".join(steps) + ", for example by a factor of 10"

    # -------------------------------------------------------------- scoring
    def _check_X(self, X):
        check_is_fitted(self)
        return self._validate_X(X, reset=False)

    def _batches(self, X, encode_only=False):
        """Yield ``(rows, n_rows, raw, xb, observed, outputs)`` over fixed-size batches.

        ``rows`` is the slice of ``X`` a batch covers and ``n_rows`` its
        number of real rows; ``raw`` the rows of ``X`` as a tensor.  ``xb``
        (the scaled network inputs, holes filled by the column map),
        ``observed`` (None when ``X`` has no missing entry, else the mask of
        observed entries) and ``outputs``
        (the module's ``(reconstruction, code, log_variance)``) have
        exactly ``INFERENCE_BATCH`` rows: reduce over features before
        slicing off the padding, so a row's result never depends on the
        shape of its batch.  With ``encode_only`` the outputs are the codes.
        """
        module = self._scoring_module()
        forward = module.encode if encode_only else module
        source = RowSource(X, self._scoring_device())
        to_inputs = self._columns_.bind(source)
        starts = range(0, X.shape[0], INFERENCE_BATCH)
        starts = scoring_progress(starts, self.verbose, sys.stderr)
        # Every batch is padded to INFERENCE_BATCH rows, so the thread count
        # (which changes rounding) follows that, never the number of rows.
        with torch.inference_mode(), torch_threads(self._threads(INFERENCE_BATCH)):
            for start in starts:
                rows = slice(start, start + INFERENCE_BATCH)
                raw = source.rows(rows)
                xb, observed = to_inputs(raw)
                xb = _pad(xb.clamp(-INPUT_BOUND, INPUT_BOUND))
                if observed is not None:
                    observed = _pad(observed, value=1.0)
                n_rows = min(INFERENCE_BATCH, X.shape[0] - start)
                yield rows, n_rows, raw, xb, observed, forward(xb)

    def _scoring_module(self):
        """The fitted module, in evaluation mode.

        Training leaves it in evaluation mode and scoring never switches it
        back, so any number of threads can score one fitted model at once
        (switching per call let one thread turn dropout on under another).
        The check covers models pickled by skae 0.1, which stayed in
        training mode; setting eval mode is idempotent.
        """
        module = self.net_.module_
        if module.training:
            module.eval()
        return module

    def _scoring_device(self):
        return next(self.net_.module_.parameters()).device

    def _error_weights(self):
        """Per-feature factors from squared errors in the network's scaled
        space to the reported errors: ``(scale_ / error_scale_) ** 2`` gives
        squared errors in units of the training standard deviation."""
        return self._columns_.error_weights()

    def _error_batches(self, X):
        """Yield ``(rows, n_rows, sq_diff, weight, observed)`` over padded batches.

        ``sq_diff * weight`` are the errors per user column, with ``sq_diff =
        (z - z_hat) ** 2`` in the network's scaled space (for a categorical
        column, the surprise ``-log p`` of its category, see
        ``ColumnMap.column_errors``), of shape ``(rows, features)``, or
        ``(members, rows, features)`` for an ensemble, and ``weight`` from
        :meth:`_error_weights`, of shape ``(features,)`` or ``(members, 1,
        features)``.  ``observed`` is None without missing entries, else the
        ``(rows, features)`` float mask of observed entries (1 observed, 0
        missing); ``sq_diff`` is 0 where it is 0.
        """
        weight = torch.as_tensor(
            self._error_weights(), dtype=torch.float32, device=self._scoring_device()
        )
        columns = self._columns_
        for rows, n_rows, raw, xb, observed, (recon, _, _) in self._batches(X):
            if recon.dim() == 3:  # one weight row per member
                weight = weight.view(-1, 1, weight.shape[-1]).expand(len(recon), 1, -1)
            if columns.categories is not None:
                sq_diff, observed = columns.column_errors(recon, xb, _pad(raw))
            else:
                sq_diff = recon.sub_(xb).square_()
                if observed is not None:
                    sq_diff.mul_(observed)
            yield rows, n_rows, sq_diff, weight, observed

    def _feature_errors(self, X):
        """Weighted squared errors per feature (the members' mean for an
        ensemble); NaN exactly where ``X`` is missing."""
        out = np.empty(X.shape, dtype=np.float64)
        holes = None
        for rows, n_rows, sq_diff, weight, observed in self._error_batches(X):
            errors = sq_diff.mul_(weight)
            if errors.dim() == 3:
                errors = errors.mean(dim=0)
            out[rows] = errors[:n_rows].cpu().numpy()
            if observed is not None:
                holes = np.zeros(X.shape, dtype=bool) if holes is None else holes
                holes[rows] = observed[:n_rows].cpu().numpy() == 0
        out = _bounded(out)
        if holes is not None:
            out[holes] = np.nan
        return out

    def _reconstruction_errors(self, X):
        """Row means of :meth:`_feature_errors` over the observed entries,
        batch by batch.

        One matrix-vector product (one per member) weights and averages the
        features; a row with holes is then multiplied by ``n_features /
        n_observed`` (exactly 1 for a complete row).
        """
        out = np.empty(X.shape[0], dtype=np.float64)
        for rows, n_rows, sq_diff, weight, observed in self._error_batches(X):
            if sq_diff.dim() == 2:
                errors = sq_diff @ (weight / len(weight))
            else:
                average = weight.transpose(1, 2) / (weight.shape[0] * weight.shape[2])
                errors = torch.bmm(sq_diff, average).sum(dim=0).squeeze(1)
            if observed is not None:
                errors = errors * (observed.shape[1] / observed.sum(dim=1))
            out[rows] = errors[:n_rows].cpu().numpy()
        return _bounded(out)

    def score_samples(self, X):
        """Minus the reconstruction error of each row.

        The error is the mean over features of ``((x - x_hat) / std)**2``,
        with each feature's standard deviation from the training data.  It
        does not depend on ``loss`` or ``scaling``, so models trained with
        different losses are comparable.  Higher means more normal.  For a
        row with missing values (NaN) it is the mean over the row's observed
        features, on the same scale as complete rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score; NaN entries are missing values.  A row with
            every entry missing raises a ``ValueError``.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the standardized mean squared reconstruction error.
        """
        return -self._reconstruction_errors(self._check_X(X))

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: minus the mean reconstruction error.

        With no ``scoring``, ``GridSearchCV`` ranks candidates by this value;
        because it is measured in the same standardized units whatever the
        loss, a grid search over ``loss`` compares like with like.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Higher is better.
        """
        return float(np.mean(self.score_samples(X)))

    def _encode(self, X):
        """Codes of ``X`` (posterior means for a VAE), batch by batch.

        The public ``transform`` is defined by each estimator, so that
        scikit-learn's ``set_output`` wraps it.
        """
        return self._codes(self._check_X(X))

    def _codes(self, X):
        """Codes of validated rows ``X``."""
        out = np.empty((X.shape[0], self.net_.module_.n_components), dtype=np.float64)
        for rows, n_rows, _, _, _, code in self._batches(X, encode_only=True):
            out[rows] = code[:n_rows].cpu().numpy()
        return out

    def _feature_frame(self, values, index=None):
        """``values`` (one column per input feature) as set_output asks:
        unchanged, or a DataFrame with the input's column names
        (``feature_names_in_``, else ``x0, x1, ...``)."""
        if output_format(self) != "pandas":
            return values
        columns = getattr(self, "feature_names_in_", None)
        if columns is None:
            columns = [f"x{i}" for i in range(self.n_features_in_)]
        return pd.DataFrame(values, columns=list(columns), index=index)

    def _table(self, values, index=None):
        """Decoded rows (numeric values, categorical slot codes) in the user's
        columns: as :meth:`_feature_frame` without categorical columns;
        with them, categories in their place: an object array, or, with
        pandas output, a DataFrame whose categorical columns have their
        training dtypes.  ``index``: the pandas output's row index."""
        categories = self._columns_.categories
        if categories is None:
            return self._feature_frame(values, index)
        decoded = categories.decode(values[:, categories.columns])
        if output_format(self) != "pandas":
            table = values.astype(object)
            for j, column in zip(categories.columns, decoded):
                table[:, j] = column
            return table
        table = self._feature_frame(values, index)
        for j, column, dtype in zip(categories.columns, decoded, categories.dtypes):
            table.isetitem(j, pd.Series(column, dtype=dtype, index=table.index))
        return table

    def inverse_transform(self, X):
        """Decode codes back to the original feature space.

        ``inverse_transform(transform(X))`` gives a value for every entry,
        the missing ones (NaN) of ``X`` included: it imputes them from the
        row's observed entries.  ``np.where(np.isnan(X), X_rec, X)`` keeps
        the observed values and fills the holes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Codes, as returned by :meth:`transform` (the detector's:
            ``n_estimators * n_components`` columns, the members' codes side
            by side; it decodes their mean); they cannot be missing.

        Returns
        -------
        X_original : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            Reconstructions in the units of the training data; a DataFrame
            with the training column names when pandas output is set with
            ``set_output(transform="pandas")``.  A categorical column holds
            its most likely category (with its training dtype in a
            DataFrame; an object array holds the whole table otherwise).
        """
        check_is_fitted(self)
        k = self.net_.module_.n_components  # the fitted width, whatever set_params did since
        check_numeric(X)
        Z = check_array(X, dtype=(np.float64, np.float32), input_name="X")
        if Z.shape[1] != k:
            raise ValueError(
                f"X has {Z.shape[1]} columns, but inverse_transform expects codes with "
                f"{k} columns ({self._code_width_text()}), as returned by transform."
            )
        # pandas codes keep their rows' labels, as transform's output does.
        return self._table(self._decode(Z), index=getattr(X, "index", None))

    def _code_width_text(self):
        """What sets the code width, for messages."""
        return f"n_components={self.net_.module_.n_components}"

    def _decode(self, Z):
        """Rows decoded from codes ``Z``: numeric values in the user's units,
        categorical columns as slot codes."""
        module = self._scoring_module()
        device = self._scoring_device()
        out = np.empty((Z.shape[0], self.n_features_in_), dtype=np.float64)
        with torch.inference_mode(), torch_threads(self._threads(INFERENCE_BATCH)):
            for start in range(0, Z.shape[0], INFERENCE_BATCH):
                # A copy: Z may be the caller's array, and read-only (a
                # DataFrame's values under copy-on-write).
                zb = torch.from_numpy(np.array(Z[start : start + INFERENCE_BATCH], np.float32))
                zb = zb.to(device).clamp_(-INPUT_BOUND, INPUT_BOUND)
                x_hat = module.decode(_pad(zb))[: len(zb)].double().cpu().numpy()
                out[start : start + len(zb)] = self._columns_.decode(x_hat)
        return out

    def __sklearn_is_fitted__(self):
        # A failed fit leaves the estimator as it was (see _stage): fitted
        # state is complete whenever net_ exists.
        return hasattr(self, "net_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True
        tags.non_deterministic = False
        return tags


def _same(a, b):
    """Whether a network-defining parameter is unchanged: the same object,
    or equal values (objects without a plain boolean ``==`` count as
    changed unless they are the same object)."""
    if a is b:
        return True
    try:
        return bool(type(a) is type(b) and a == b)
    except (TypeError, ValueError, RuntimeError):
        return False


def _object_missing_as_nan(X):
    """``X`` with None and ``pd.NA`` in object columns (of numbers, as
    checked) made NaN, which validate_data takes as missing; other input
    is returned as it is."""
    dtypes = getattr(X, "dtypes", None)
    if hasattr(dtypes, "items"):
        objects = [i for i, dtype in enumerate(dtypes) if getattr(dtype, "kind", None) == "O"]
        if objects:
            X = X.copy(deep=False)
            for i in objects:
                X.isetitem(i, missing_as_nan(X.iloc[:, i]))
        return X
    if isinstance(X, np.ndarray) and X.dtype == object:
        return missing_as_nan(X)
    return X


def _comparable(value):
    """A list or array parameter as a tuple, so that ``==`` compares it."""
    if isinstance(value, (list, tuple, np.ndarray, pd.Index)):
        return tuple(np.asarray(value, dtype=object).tolist())
    return value


def _bounded(errors):
    """Replace errors that overflowed float32 by ``ERROR_BOUND``, in place."""
    return np.nan_to_num(errors, copy=False, nan=ERROR_BOUND, posinf=ERROR_BOUND)


def _pad(batch, value=0):
    """Pad a batch with rows of ``value`` to exactly ``INFERENCE_BATCH`` rows."""
    if len(batch) == INFERENCE_BATCH:
        return batch
    padded = batch.new_full((INFERENCE_BATCH, batch.shape[1]), value)
    padded[: len(batch)] = batch
    return padded


SHARED_PARAMETERS_DOC = """\
    hidden_layer_sizes : int or tuple of int, default={hidden}
        Widths of the encoder's hidden layers; the decoder mirrors them.
        An int is one hidden layer, as in scikit-learn's MLP; ``()`` gives a
        single linear layer each way.

    activation : {{"relu", "tanh", "logistic", "identity", "elu", "gelu", \
"leaky_relu", "selu"}}, default="relu"
        Activation of the hidden layers.  The code layer is linear.

    dropout : float in [0, 1), default={dropout}
        Dropout rate after each hidden activation while training.

    loss : {{"mse", "bce", "mae", "huber", "sparse", "denoise", "vae"}} or \
callable, default="mse"
        Training loss.  "mse" suits continuous data; "bce" data in [0, 1]
        (it uses a sigmoid output); "mae" and "huber" resist outliers;
        "sparse" adds ``sparsity_weight * mean|code|``; "denoise" trains on
        inputs corrupted by Gaussian noise of scale ``noise_level`` and
        reconstructs the clean rows; "vae" minimizes ``0.5 * log(MSE)`` (a
        Gaussian likelihood whose variance is the batch's MSE, so the loss
        can be negative) plus ``kl_weight`` times ``KL(q(z|x) || N(0, I))``
        per feature.  A callable ``loss(y_true, y_pred)``
        returning a tensor is used as the reconstruction loss (a module-level
        function, so that the estimator pickles).  When the training data
        has missing values, every loss is a mean over the observed entries
        only, and a callable receives the observed entries alone, as 1-D
        tensors ``y_true[observed]`` and ``y_pred[observed]`` (on complete
        data, ``(rows, features)`` tensors).

    huber_delta : float, default=1.0
        Threshold between the quadratic and linear parts of "huber".

    sparsity_weight : float, default=0.1
        Weight of the L1 penalty on the code for ``loss="sparse"``.

    noise_level : float, default=0.2
        Standard deviation of the Gaussian corruption, in scaled units, for
        ``loss="denoise"``.  Corruption happens only while training.

    kl_weight : float, default=1.0
        Weight of the KL term for ``loss="vae"``.

    optimizer : {{"adam", "adamw", "sgd", "rmsprop"}}, default="adam"
        Optimizer.  Adam, AdamW and SGD (momentum 0.9, Nesterov) use
        torch's fused implementations.

    learning_rate_init : float, default={lr}
        Learning rate.

    weight_decay : float, default=0.0
        L2 penalty (decoupled for "adamw").

    batch_size : int, default={batch}
        Rows per training step; fewer rows than this train as one batch.

    max_iter : int, default={max_iter}
        Maximum number of epochs.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, stop when their loss
        stops improving and keep the best epoch's weights.  Otherwise the
        training loss drives the stopping rule.

    validation_fraction : float in (0, 1), default=0.1
        Share of rows held out when ``early_stopping=True``.

    n_iter_no_change : int, default=10
        Epochs without an improvement of at least ``tol`` before stopping.

    tol : float, default=1e-4
        Minimal improvement of the monitored loss.

    scaling : {{"auto", "standard", "minmax"}} or None, default="auto"
        How the network's inputs are scaled, with statistics of the training
        data: "standard" standardizes, "minmax" maps to [0, 1], "auto" uses
        "minmax" for "bce" and "standard" otherwise, None feeds raw values.
        Constant columns are left unscaled.  Outputs are always returned in
        the original units.  A missing value (NaN) enters the network as
        its column's training mean, scaled: 0 for "standard",
        ``(mean - min) / (max - min)`` for "minmax".

    device : str or torch.device, default="cpu"
        Where to train and score, for example "cuda".

    random_state : int, RandomState instance or None, default=None
        Seeds weight initialization, shuffling, dropout and corruption,
        privately: torch's global generator is left untouched, and so is
        numpy's unless ``random_state=None``, which draws one seed from it
        per fit, as scikit-learn's estimators do.

    verbose : int, default=0
        0 is silent.  1 shows a progress bar of the epochs with the losses
        and monitoring metrics (a tqdm bar in terminals and notebooks, one
        line per epoch otherwise).  2 also shows progress of long scoring
        calls.

    warm_start : bool, default=False
        Continue training the fitted network on the next call to ``fit``.

    module : torch.nn.Module subclass or instance, default=None
        Your own autoencoder instead of the built-in network.  It needs
        ``encoder`` and ``decoder`` (modules or callables) or ``encode`` and
        ``decode`` methods: the encoder maps ``(n_rows, n_features)`` to a
        2-D code, the decoder maps codes back.  A class is built with
        ``module_params``, plus ``n_features`` and ``n_components`` where
        its constructor takes them; an instance is copied, never trained
        itself.  ``hidden_layer_sizes``, ``activation`` and ``dropout``
        apply to the built-in network only.  For ``loss="vae"`` the encoder
        returns ``(mean, log_variance)``.  Shapes are checked on a probe
        batch before training.  See the user guide's "Your own network".

    module_params : dict, default=None
        Constructor arguments of ``module`` when it is a class, so that a
        grid search can search over them (``module_params=[{{"width": 32}},
        {{"width": 64}}]``).

    categorical_features : "from_dtype", list of str or int, array-like of \
bool or None, default="from_dtype"
        Which columns hold categories, as in scikit-learn's
        ``HistGradientBoostingClassifier``: "from_dtype" takes a
        DataFrame's ``category`` and ``string`` columns and its ``object``
        columns unless they hold numbers only (a NumPy array has none); a
        list of column names (DataFrame) or indices, or a boolean mask,
        names them; None declares none.  Each categorical
        column enters the network one-hot and is reconstructed by a
        softmax head; its training term is the cross entropy divided by the
        column's training entropy, averaged with the numeric columns'
        ``loss`` terms over a row's observed columns.  Its error is the
        surprise ``-log p`` of the observed category over that entropy, on
        the scale of the numeric columns' standardized squared errors (1
        for a model that knows only the column's frequencies).  A category
        never seen in training scores as the most surprising one; a
        missing category (None, NaN, pandas NA) is left out like a missing
        number.  Sparse input is numeric only.  See the user guide's "Categorical
        columns".

    max_categories : int >= 2 or None, default=64
        A categorical column with more categories keeps the
        ``max_categories - 1`` most frequent and pools the others into one
        infrequent category, as ``OneHotEncoder(max_categories=...)`` does.
        None keeps them all.
"""

SHARED_ATTRIBUTES_DOC = """\
    net_ : AutoencoderNet (a skorch NeuralNet)
        The trained skorch net; its ``module_`` is the torch autoencoder.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when they are all strings.

    n_iter_ : int
        Epochs trained.

    loss_curve_ : list of float
        Mean training loss of each epoch.

    validation_loss_curve_ : list of float
        Mean validation loss of each epoch (``early_stopping=True`` only).

    history_ : list of dict
        One dict per epoch: ``epoch``, ``train_loss`` and the monitoring
        metrics ``train_mse`` and ``train_mae`` (reconstruction errors in
        scaled units, whatever the loss), plus ``valid_loss``, ``valid_mse``
        and ``valid_mae`` with ``early_stopping=True``; with missing values,
        means over the observed entries.  With categorical columns the
        metrics cover the numeric columns (NaN if there is none).
        ``pd.DataFrame(history_)`` makes it a table.

    center_, scale_ : ndarray of shape (`n_features_in_`,)
        Network inputs are ``(X - center_) / scale_``.  Their statistics
        leave missing values out.  A categorical column holds 0 and 1 here:
        it enters the network one-hot instead.

    error_scale_ : ndarray of shape (`n_features_in_`,)
        Training standard deviation of each feature (1 for constant ones),
        over its observed entries: the unit of reconstruction errors.  For
        a categorical column, its training entropy in nats (1 for a column
        with one category).

    is_categorical_ : ndarray of bool of shape (`n_features_in_`,)
        Which columns were taken as categorical (``categorical_features``).

    categories_ : list of ndarray
        The categories seen in training, one array per categorical column
        in column order (empty without categorical columns).
"""


def fill_docstring(cls, parameters, attributes=SHARED_ATTRIBUTES_DOC):
    """Put the shared parameter and attribute docs into ``cls.__doc__``.

    The class docstring holds ``%(shared)s`` and ``%(attributes)s`` on lines
    of their own at the section indentation.
    """
    cls.__doc__ = inspect.cleandoc(cls.__doc__) % {
        "shared": textwrap.dedent(parameters).strip("\n"),
        "attributes": textwrap.dedent(attributes).strip("\n"),
    }
