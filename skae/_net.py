"""The skorch net that trains the autoencoder, and its fast data path.

skorch's default data path indexes and collates one row at a time, which
costs about 3x a plain torch loop on tabular data.  Here a batch is one
``index_select`` on a tensor made once per fit, scaled on the fly, so memory
stays at the size of the input and no Python work is done per row.
"""

import copy
import inspect
import math
import sys
import time
import warnings
from collections import deque

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from torch.optim import optimizer as torch_optimizer
from torch.optim.adam import adam as functional_adam

from ._columns import as_target, has_missing, split_target
from ._networks import evaluation
from ._progress import Progress

__all__ = ["AutoencoderNet", "RowSource", "ScaledRows", "SliceIterator", "TrimRows"]

# Finite-epoch states the TrainingMonitor keeps to fall back on, besides the
# state training started from.
KEPT_STATES = 2


class RowSource:
    """Rows of a dense array or a CSR matrix, as tensors on one device.

    Dense data becomes one tensor, shared with numpy where possible and
    moved to the device once; sparse data stays sparse and is densified one
    batch at a time, so memory stays bounded.  ``missing`` says whether
    any entry is NaN (a missing value).
    """

    def __init__(self, X, device="cpu"):
        self.device = torch.device(device)
        self.n_rows, self.n_features = X.shape
        self.missing = has_missing(X)
        if sp.issparse(X):
            self.sparse = X.tocsr()
            self.tensor = None
            self.dtype = torch.from_numpy(np.zeros(0, dtype=X.dtype)).dtype
        else:
            self.sparse = None
            with warnings.catch_warnings():
                # Read-only arrays (memmaps) are only ever read here.
                warnings.simplefilter("ignore", UserWarning)
                self.tensor = torch.as_tensor(X).to(self.device)
            self.dtype = self.tensor.dtype

    def magnitude(self):
        """The largest absolute value stored, missing entries aside."""
        if self.sparse is not None:
            return float(np.nanmax(np.abs(self.sparse.data), initial=0.0))
        values = torch.nan_to_num(self.tensor, nan=0.0) if self.missing else self.tensor
        low, high = torch.aminmax(values)
        return max(-low.item(), high.item())

    def rows(self, index):
        """Rows at ``index`` (a slice or a 1-D long tensor) as a dense tensor."""
        if self.sparse is None:
            if isinstance(index, slice):
                return self.tensor[index]
            return self.tensor.index_select(0, index.to(self.device))
        if not isinstance(index, slice):
            index = index.cpu().numpy()
        return torch.from_numpy(self.sparse[index].toarray()).to(self.device)


class ScaledRows(torch.utils.data.Dataset):
    """The training data as skorch sees it: scaled float32 rows.

    Parameters
    ----------
    source : RowSource
        Where the raw rows live.
    columns : ColumnMap
        Scaling and missing values (see ``skae/_columns.py``).
    indices : tensor of int64 or None
        The rows of ``source`` this dataset covers (None: all).
    """

    def __init__(self, source, columns, indices=None):
        self.source = source
        self.columns = columns.bind(source)
        self.indices = indices

    def __len__(self):
        return self.source.n_rows if self.indices is None else len(self.indices)

    def __getitem__(self, i):  # pragma: no cover - the SliceIterator is used
        return self.batch(torch.tensor([i]))[0]

    def subset(self, indices):
        """A dataset of the rows ``indices`` (positions within this one)."""
        subset = copy.copy(self)
        subset.indices = indices if self.indices is None else self.indices[indices]
        return subset

    def batch(self, positions):
        """``(z, observed)`` at ``positions`` (slice or long tensor): scaled
        float32 rows, and the mask of observed entries (None without holes).

        ``z`` may be the source's own tensor: callers must not modify it
        in place.
        """
        if self.indices is not None:
            positions = self.indices[positions]
        return self.columns(self.source.rows(positions))


class SliceIterator:
    """Batches of a :class:`ScaledRows`, shuffled once per epoch.

    Each batch is ``(X_batch, X_batch)``: an autoencoder's target is its
    input; with missing entries the target is ``Observed(X_batch, mask)``
    (see ``skae/_columns.py``).  Shuffling draws one permutation per pass from a private
    generator seeded by ``seed``.

    Rows are gathered and scaled a chunk of whole batches at a time (about
    ``CHUNK_ELEMENTS`` values), and each batch is a contiguous view of its
    chunk: two kernels per chunk instead of two per batch, with memory
    bounded by the chunk.  The batches are exactly those of a per-batch
    gather of the same permutation.
    """

    #: Values gathered and scaled at once (4 MiB of float32).
    CHUNK_ELEMENTS = 2**20

    def __init__(self, dataset, batch_size, shuffle=False, seed=0):
        self.dataset = dataset
        self.batch_size = max(1, min(batch_size, len(dataset)))
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        n, size = len(self.dataset), self.batch_size
        width = max(1, self.dataset.source.n_features)
        chunk = size * max(1, self.CHUNK_ELEMENTS // (width * size))
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for first in range(0, n, chunk):
            last = min(first + chunk, n)
            rows, observed = self.dataset.batch(
                slice(first, last) if order is None else order[first:last]
            )
            for start in range(0, last - first, size):
                xb = rows[start : start + size]
                mask = None if observed is None else observed[start : start + size]
                yield xb, as_target(xb, mask)


class HoldOut:
    """skorch ``train_split``: a seeded random validation fraction."""

    def __init__(self, fraction, seed):
        self.fraction = fraction
        self.seed = seed

    def __call__(self, dataset, y=None, **kwargs):
        n = len(dataset)
        n_valid = int(round(self.fraction * n))
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        return dataset.subset(order[n_valid:]), dataset.subset(order[:n_valid])


# Before torch 2.7, AdamW had its own update and the functional adam() took
# no decoupled_weight_decay argument: there the optimizers step themselves.
_FUNCTIONAL_ADAM_DECOUPLES = "decoupled_weight_decay" in inspect.signature(
    functional_adam
).parameters and issubclass(torch.optim.AdamW, torch.optim.Adam)


class LeanAdamStep:
    """``Adam.step()`` and ``zero_grad(set_to_none=True)`` without their
    per-call Python work.

    ``torch.optim.Adam.step`` spends about 50 us per call outside its
    kernels (profiler records, hook checks, re-collecting the state of every
    parameter) and ``zero_grad`` about 20 us: 7 % of a step of a small
    network on a CPU.  This calls the same functional ``torch.optim.adam.adam``
    with the same arguments, so the update is bit for bit that of
    ``optimizer.step()`` (tested).  It is used only for a plain ``Adam`` or
    ``AdamW`` with one parameter group, no hooks and initialized state, for
    one epoch at a time; anything else goes through ``optimizer.step()``.
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.group = optimizer.param_groups[0]
        self.params = list(self.group["params"])

    @classmethod
    def for_optimizer(cls, optimizer):
        """A lean step for ``optimizer``, or None where it does not apply."""
        if not _FUNCTIONAL_ADAM_DECOUPLES:
            return None
        if type(optimizer) not in (torch.optim.Adam, torch.optim.AdamW):
            return None
        if len(optimizer.param_groups) != 1 or _has_step_hooks(optimizer):
            return None
        group = optimizer.param_groups[0]
        if group.get("differentiable") or any(p.is_complex() for p in group["params"]):
            return None
        return cls(optimizer)

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        state, group = self.optimizer.state, self.group
        grads = [p.grad for p in self.params]
        states = [state.get(p) for p in self.params]
        if any(g is None for g in grads) or not all(states):
            # First step (the optimizer creates its state) or a parameter
            # without a gradient: the optimizer's own step handles both.
            self.optimizer.step()
            return
        beta1, beta2 = group["betas"]
        with torch.no_grad():
            functional_adam(
                self.params,
                grads,
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [s["max_exp_avg_sq"] for s in states] if group["amsgrad"] else [],
                [s["step"] for s in states],
                amsgrad=group["amsgrad"],
                has_complex=False,
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=group["maximize"],
                foreach=group["foreach"],
                capturable=group["capturable"],
                differentiable=False,
                fused=group["fused"],
                grad_scale=getattr(self.optimizer, "grad_scale", None),
                found_inf=getattr(self.optimizer, "found_inf", None),
                decoupled_weight_decay=group.get("decoupled_weight_decay", False),
            )


def _has_step_hooks(optimizer):
    hooks = (
        optimizer._optimizer_step_pre_hooks,
        optimizer._optimizer_step_post_hooks,
        torch_optimizer._global_optimizer_pre_hooks,
        torch_optimizer._global_optimizer_post_hooks,
    )
    return any(len(h) for h in hooks)


class AutoencoderNet(NeuralNet):
    """skorch ``NeuralNet`` for reconstruction with ``X`` as the target.

    Differences from skorch's defaults, all for speed or correctness:

    - no default callbacks (timer, printing, per-batch scoring); the epoch's
      mean loss is accumulated on the device and recorded once per epoch;
    - ``train_step`` zeroes, steps and returns without skorch's hooks;
    - ``noise_level > 0`` corrupts inputs in training steps only, and the
      loss compares the reconstruction with the clean batch.
    """

    def __init__(self, *args, noise_level=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.noise_level = noise_level

    @property
    def _default_callbacks(self):
        return []

    def infer(self, x, **fit_params):
        return self.module_(x)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return self.criterion_(y_pred, y_true)

    def train_step_single(self, batch, **fit_params):
        # The module is put in training mode once per epoch, in
        # run_single_epoch: doing it per step cost ~12 % of a small net's fit.
        Xi, yi = batch
        if self.noise_level > 0:
            Xi = Xi + self.noise_level * torch.randn_like(Xi)
        y_pred = self.infer(Xi)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        lean = getattr(self, "_lean_step", None)
        if lean is None:
            self.optimizer_.zero_grad(set_to_none=True)
            step = self.train_step_single(batch)
            self.optimizer_.step()
            return step
        lean.zero_grad()
        step = self.train_step_single(batch)
        lean.step()
        return step

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass; records ``{prefix}_loss``, ``_mse`` and ``_mae`` once.

        The monitoring metrics (reconstruction MSE and MAE in scaled units,
        whatever the loss) come from each step's output, with no extra
        pass: per batch one norm kernel (two unless the loss is the MSE)
        whose results are kept on the device and summed, with a single
        synchronization, at the end of the epoch.  With missing entries,
        the metrics and the epoch's loss are means over observed entries:
        each batch's loss (a mean over its observed entries) counts by its
        number of observed entries.  With categorical columns the metrics
        cover the numeric columns (NaN without any observed numeric entry)
        and each batch's loss counts by its number of observed user
        columns, over which it is a mean.
        """
        if iterator is None:
            return
        self._set_training(training)
        # One column per batch, one row per figure (loss, L2 and L1 distances,
        # entries, weight): a float64 buffer written in place.  Keeping a
        # small tensor per step instead pinned freed batch-sized blocks in
        # glibc's heap: an epoch over 300,000 rows held 250 MiB it did not use.
        LOSS, L2, L1, ENTRIES, WEIGHT = range(5)
        record = None
        n_batches = 0
        width = 0
        # When the loss is exactly the reconstruction MSE, it is the metric.
        loss_is_mse = self.criterion_.is_plain_mse
        heads = self.criterion_.heads
        # The lean step lives for one epoch: it must never be pickled with
        # the net, outside skorch's device mapping of the optimizer state.
        self._lean_step = LeanAdamStep.for_optimizer(self.optimizer_) if training else None
        try:
            for i, batch in enumerate(iterator):
                step = step_fn(batch)
                y_true, observed = split_target(batch[1])
                y_pred = step["y_pred"][0].detach()
                if record is None:
                    record = y_pred.new_zeros((5, len(iterator)), dtype=torch.float64)
                row = record[:, i]
                if heads is not None:
                    # The loss is a mean over observed user columns; the
                    # metrics cover the numeric columns.
                    row[WEIGHT] = heads.observed_columns(observed, y_true)
                    n = heads.n_numeric
                    y_true, y_pred = y_true[:, :n], y_pred[..., :n]
                    observed = None if observed is None else observed[:, :n]
                # Values per row: features, times the members of an ensemble,
                # whose (members, rows, features) outputs broadcast y_true.
                width = y_pred.numel() // y_true.shape[0]
                row[LOSS] = step["loss"].detach()
                if observed is None:
                    row[ENTRIES] = float(y_pred.numel())
                else:
                    # Holes out: y_true holds the fill there, y_pred a zero.
                    y_pred = y_pred * observed
                    y_true = y_true * observed
                    members = y_pred.numel() // max(1, y_true.numel())
                    row[ENTRIES] = observed.sum() * members
                if not loss_is_mse:
                    row[L2] = torch.dist(y_pred, y_true, 2)
                row[L1] = torch.dist(y_pred, y_true, 1)
                n_batches = i + 1
        finally:
            self._lean_step = None
        if not n_batches:
            return
        record = record[:, :n_batches]
        entries = record[ENTRIES]
        # What each batch's loss is a mean over: its observed entries, in
        # rows' worth (rows without holes), or its observed user columns.
        n = entries / width if heads is None else record[WEIGHT]
        loss = torch.dot(record[LOSS], n)
        se = loss * width if loss_is_mse else record[L2].square().sum()
        ae = record[L1].sum()
        loss, count, se, ae, total = torch.stack([loss, n.sum(), se, ae, entries.sum()]).tolist()
        self.history.record(prefix + "_loss", loss / count)
        # No observed numeric entry (or no numeric column): no metric.
        self.history.record(prefix + "_mse", se / total if total else math.nan)
        self.history.record(prefix + "_mae", ae / total if total else math.nan)


METRICS = ("train_loss", "train_mse", "train_mae", "valid_loss", "valid_mse", "valid_mae")


class TrainingMonitor(Callback):
    """Stopping rules, divergence guard and interruption bookkeeping.

    After each epoch it stops training when the loss is no longer finite
    and, when ``n_iter_no_change`` is set, when the monitored loss has not
    improved by ``tol`` for that many epochs, as scikit-learn's MLP does.
    With ``restore_best`` it keeps the weights of the best validation epoch.

    At the end of training the module must give finite outputs on every
    training row; the last step of an epoch is never seen by its loss, so
    after a step that blew up the weights it falls back to earlier epochs'
    weights (``stop_reason="diverged"``, ``epochs_done`` counts the epochs
    kept).  Interrupted mid-epoch, it returns to the last completed epoch.

    Parameters
    ----------
    n_iter_no_change : int or None
        Patience in epochs; None disables the stopping rule.
    tol : float
        Minimal improvement.
    monitor : {"train_loss", "valid_loss"}
        Which loss drives the rule.
    restore_best : bool
        Restore the weights of the best epoch of ``monitor`` at the end.
    verbose : int
        Show per-epoch progress (see :class:`Progress`) when > 0.
    total_epochs : int
        Epochs planned, for the progress bar.
    """

    def __init__(
        self,
        n_iter_no_change=None,
        tol=0.0,
        monitor="train_loss",
        restore_best=False,
        verbose=0,
        total_epochs=None,
    ):
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.monitor = monitor
        self.restore_best = restore_best
        self.verbose = verbose
        self.total_epochs = total_epochs

    def on_train_begin(self, net, **kwargs):
        self.stop_reason = None
        self.epochs_done = 0
        self.best_loss = np.inf
        self.best_state = None
        self.no_improvement = 0
        self.start_state = _state_copy(net.module_)
        self.finite_states = deque(maxlen=KEPT_STATES)  # (epochs_done, state)
        self.in_epoch = False
        self._tic = time.perf_counter()
        if self.verbose > 0:
            self.progress = Progress(self.total_epochs, sys.stderr, METRICS)
        else:
            self.progress = None

    def on_epoch_begin(self, net, **kwargs):
        self.in_epoch = True

    def on_epoch_end(self, net, **kwargs):
        self.in_epoch = False
        row = net.history[-1]
        losses = [row[k] for k in ("train_loss", "valid_loss") if k in row]
        if not all(math.isfinite(v) for v in losses):
            self.stop_reason = "diverged"
            raise _StopTraining
        self.epochs_done += 1
        self.finite_states.append((self.epochs_done, _state_copy(net.module_)))
        if self.progress is not None:
            self.progress.update(len(net.history), row, time.perf_counter() - self._tic)
        if self.n_iter_no_change is None:
            return
        loss = row[self.monitor]
        if loss > self.best_loss - self.tol:
            self.no_improvement += 1
        else:
            self.no_improvement = 0
        if loss < self.best_loss:
            self.best_loss = loss
            if self.restore_best:
                self.best_state = self.finite_states[-1][1]
        if self.no_improvement >= self.n_iter_no_change:
            self.stop_reason = "converged"
            raise _StopTraining

    def on_train_end(self, net, X=None, **kwargs):
        if self.restore_best and self.best_state is not None:
            net.module_.load_state_dict(self.best_state)
        elif self.stop_reason == "diverged" or self.in_epoch:
            net.module_.load_state_dict(self._latest_state())
        while X is not None and not _outputs_finite(net, X):
            self.stop_reason = "diverged"
            if not self.finite_states:
                self.epochs_done = 0  # back at the state training started from
                break
            self.finite_states.pop()
            self.epochs_done = self.finite_states[-1][0] if self.finite_states else 0
            net.module_.load_state_dict(self._latest_state())
        if self.progress is not None:
            self.progress.close()
        # Scoring never switches modes (many threads may score at once).
        net.module_.eval()
        # Nothing of a finished training stays in the monitor: it is pickled
        # with the estimator.
        self.progress = self.best_state = self.start_state = None
        self.finite_states.clear()

    def _latest_state(self):
        return self.finite_states[-1][1] if self.finite_states else self.start_state


class TrimRows(Callback):
    """Robust training: drop the worst-reconstructed rows once, mid-training.

    At the start of epoch ``after_epoch + 1`` it scores every training row
    with the module as trained so far (eval mode, mean squared error in the
    network's scaled space) and trains the remaining epochs on the
    ``1 - fraction`` best-reconstructed rows only, so that the outliers
    hidden in the training data stop shaping the model.  The training
    dataset is restored at the end of training.

    Parameters
    ----------
    fraction : float in [0, 1)
        Share of training rows dropped.
    after_epoch : int
        Epochs trained on all rows first.
    """

    def __init__(self, fraction=0.0, after_epoch=0):
        self.fraction = fraction
        self.after_epoch = after_epoch

    def on_train_begin(self, net, **kwargs):
        self.epoch = 0
        self.dataset = None

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        self.epoch += 1
        if self.epoch != self.after_epoch + 1 or self.fraction <= 0 or dataset_train is None:
            return
        n_keep = len(dataset_train) - int(self.fraction * len(dataset_train))
        if n_keep < 1 or n_keep == len(dataset_train):
            return
        errors = _row_errors(net, dataset_train)
        keep = torch.argsort(errors, stable=True)[:n_keep].sort().values
        self.dataset, self.indices = dataset_train, dataset_train.indices
        dataset_train.indices = keep if self.indices is None else self.indices[keep]

    def on_train_end(self, net, **kwargs):
        if self.dataset is not None:
            self.dataset.indices = self.indices
            self.dataset = None


def _row_errors(net, dataset):
    """Mean squared reconstruction error of every row of ``dataset``, in order."""
    module = net.module_
    errors = []
    with evaluation(module), torch.inference_mode():
        for xb, target in net.get_iterator(dataset, training=False):
            _, observed = split_target(target)
            errors.append(row_mean((module(xb)[0] - xb).square(), observed).cpu())
    return torch.nan_to_num(torch.cat(errors), nan=torch.inf)


def row_mean(values, observed=None):
    """Mean per row of ``(rows, features)`` or ``(members, rows, features)``,
    over the entries where ``observed`` (rows, features) is 1 if given."""
    if observed is not None:
        members = values.numel() // observed.numel()
        total = (values * observed).sum(dim=-1)
        total = total if total.dim() == 1 else total.sum(dim=0)
        return total / (observed.sum(dim=-1) * members)
    return values.mean(dim=-1) if values.dim() == 2 else values.mean(dim=(0, 2))


class _StopTraining(KeyboardInterrupt):
    """Raised by the monitor; skorch ends ``fit_loop`` on KeyboardInterrupt."""


def _state_copy(module):
    # Cloning each tensor is several times faster than deepcopy, which
    # costed a small network a quarter of its training time.
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _outputs_finite(net, dataset):
    """Whether the module's weights, and its outputs on ``dataset``, are finite."""
    module = net.module_
    if not all_finite(module.parameters()):
        return False
    with evaluation(module), torch.inference_mode():
        for xb, _ in net.get_iterator(dataset, training=False):
            if not all_finite(module(xb)):
                return False
    return True


def all_finite(tensors):
    """Whether every tensor (None entries aside) holds only finite values."""
    return all(torch.isfinite(t).all() for t in tensors if t is not None)
