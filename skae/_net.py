"""The skorch net that trains the autoencoder, and its fast data path.

skorch's default data path indexes and collates one row at a time, which
costs about 3x a plain torch loop on tabular data.  Here a batch is one
``index_select`` on a tensor made once per fit, scaled on the fly, so memory
stays at the size of the input and no Python work is done per row.
"""

import copy
import math
import time
import warnings
from collections import deque

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback

__all__ = ["AutoencoderNet", "RowSource", "ScaledRows", "SliceIterator"]

FLOAT32_MAX = float(np.finfo(np.float32).max)

# Finite-epoch states the TrainingMonitor keeps to fall back on, besides the
# state training started from.
KEPT_STATES = 2


class RowSource:
    """Rows of a dense array or a CSR matrix, as tensors on one device.

    Dense data becomes one tensor, shared with numpy where possible and
    moved to the device once; sparse data stays sparse and is densified one
    batch at a time, so memory stays bounded.
    """

    def __init__(self, X, device="cpu"):
        self.device = torch.device(device)
        self.n_rows = X.shape[0]
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
        """The largest absolute value stored."""
        if self.sparse is not None:
            return float(np.max(np.abs(self.sparse.data), initial=0.0))
        low, high = torch.aminmax(self.tensor)
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
    center, scale : ndarray of shape (n_features,)
        ``scaled = (raw - center) / scale``.
    indices : tensor of int64 or None
        The rows of ``source`` this dataset covers (None: all).
    """

    def __init__(self, source, center, scale, indices=None):
        self.source = source
        dtype = source.dtype
        shift = np.max(np.abs(center), initial=0.0)
        # x - center can only overflow float32 when the center itself is huge
        # (below ~1e31 it vanishes in the rounding of any x near float32's
        # maximum); only then look at the data and scale in float64 if needed.
        if dtype == torch.float32 and shift > 1e30 and shift + source.magnitude() >= FLOAT32_MAX:
            dtype = torch.float64
        # scaled = raw * inverse + shift: one fused kernel per batch, or
        # none at all for the identity (scaling=None).
        center, scale = np.asarray(center, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        self.identity = not center.any() and bool(np.all(scale == 1.0))
        self.inverse = torch.as_tensor(1.0 / scale, dtype=dtype).to(source.device)
        self.shift = torch.as_tensor(-center / scale, dtype=dtype).to(source.device)
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
        """Scaled float32 rows at ``positions`` (slice or long tensor)."""
        if self.indices is not None:
            positions = self.indices[positions]
        return self.scale(self.source.rows(positions))

    def scale(self, raw):
        """The one scaling step shared by training and scoring.

        May return ``raw`` itself (as float32) for the identity scaling:
        callers must not modify the result in place.
        """
        if self.identity:
            return raw.to(torch.float32)
        return torch.addcmul(self.shift, raw, self.inverse).to(torch.float32)


class SliceIterator:
    """Batches of a :class:`ScaledRows`, shuffled once per epoch.

    Each batch is ``(X_batch, X_batch)``: an autoencoder's target is its
    input.  Shuffling draws one permutation per pass from a private
    generator seeded by ``seed``.
    """

    def __init__(self, dataset, batch_size, shuffle=False, seed=0):
        self.dataset = dataset
        self.batch_size = max(1, min(batch_size, len(dataset)))
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        n, size = len(self.dataset), self.batch_size
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
            for start in range(0, n, size):
                xb = self.dataset.batch(order[start : start + size])
                yield xb, xb
        else:
            for start in range(0, n, size):
                xb = self.dataset.batch(slice(start, start + size))
                yield xb, xb


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
        self.optimizer_.zero_grad(set_to_none=True)
        step = self.train_step_single(batch)
        self.optimizer_.step()
        return step

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if iterator is None:
            return
        self._set_training(training)
        total = torch.zeros((), device=self.device)
        count = 0
        for batch in iterator:
            step = step_fn(batch)
            n = len(batch[0])
            total.add_(step["loss"].detach(), alpha=n)
            count += n
        self.history.record(prefix + "_loss", (total / max(count, 1)).item())


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
        Print one line per epoch when > 0.
    """

    def __init__(
        self,
        n_iter_no_change=None,
        tol=0.0,
        monitor="train_loss",
        restore_best=False,
        verbose=0,
    ):
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.monitor = monitor
        self.restore_best = restore_best
        self.verbose = verbose

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
        if self.verbose > 0:
            shown = ", ".join(f"{k}={row[k]:.6g}" for k in ("train_loss", "valid_loss") if k in row)
            print(f"epoch {len(net.history)}: {shown}, {time.perf_counter() - self._tic:.2f}s")
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

    def _latest_state(self):
        return self.finite_states[-1][1] if self.finite_states else self.start_state


class _StopTraining(KeyboardInterrupt):
    """Raised by the monitor; skorch ends ``fit_loop`` on KeyboardInterrupt."""


def _state_copy(module):
    return copy.deepcopy(module.state_dict())


def _outputs_finite(net, dataset):
    """Whether the module's weights, and its outputs on ``dataset``, are finite."""
    module = net.module_
    if not all(torch.isfinite(p).all() for p in module.parameters()):
        return False
    was_training = module.training
    module.eval()
    try:
        with torch.inference_mode():
            for xb, _ in net.get_iterator(dataset, training=False):
                if not all(torch.isfinite(o).all() for o in module(xb) if o is not None):
                    return False
    finally:
        module.train(was_training)
    return True
