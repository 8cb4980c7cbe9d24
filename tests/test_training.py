"""The fast training path trains exactly like a plain torch loop.

A reference loop rebuilds the same module from the same seed, draws the
same permutation each epoch and steps the same optimizer.  If the slicing
iterator skipped a batch, shuffled differently or scaled wrongly, the loss
curves would part.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from sklearn.utils import check_random_state

from skae import AutoencoderTransformer
from skae._networks import Autoencoder


def reference_curve(X, seed, epochs, batch_size, lr):
    """Plain torch: slice a tensor by a fresh permutation each epoch."""
    torch.manual_seed(seed)
    module = Autoencoder(X.shape[1], 2, (8,))
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    data = torch.as_tensor(X, dtype=torch.float32)
    curve = []
    for _ in range(epochs):
        total = 0.0
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, len(data), batch_size):
            xb = data[order[start : start + batch_size]]
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(module(xb)[0], xb)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        curve.append(total / len(data))
    return np.array(curve)


@pytest.mark.parametrize("n_rows", [300, 257])  # a full last batch, and a 1-row one
def test_loss_curve_matches_a_plain_torch_loop(n_rows):
    rng = np.random.RandomState(0)
    X = (rng.normal(size=(n_rows, 2)) @ rng.normal(size=(2, 6))).astype(np.float32)
    est = AutoencoderTransformer(
        n_components=2,
        hidden_layer_sizes=(8,),
        scaling=None,
        batch_size=64,
        max_iter=4,
        learning_rate_init=1e-2,
        random_state=0,
    ).fit(X)
    seed = int(check_random_state(0).randint(np.iinfo(np.int32).max))
    expected = reference_curve(X, seed, epochs=4, batch_size=64, lr=1e-2)
    np.testing.assert_allclose(est.loss_curve_, expected, rtol=1e-5)


@pytest.mark.parametrize("chunk", [None, 64])  # batches from one chunk, and from several
def test_every_row_is_seen_once_per_epoch(monkeypatch, chunk):
    from skae import _net

    if chunk is not None:
        # 64 values of 3 features hold two whole batches of 8: each chunk
        # gathers 16 rows, and the last one the 2 left over.
        monkeypatch.setattr(_net.SliceIterator, "CHUNK_ELEMENTS", chunk)
    batches = []
    original = _net.AutoencoderNet.train_step

    def spy(self, batch, **fit_params):
        batches.append(batch[0].clone())
        return original(self, batch, **fit_params)

    monkeypatch.setattr(_net.AutoencoderNet, "train_step", spy)
    X = np.random.RandomState(0).normal(size=(130, 3)).astype(np.float32)
    AutoencoderTransformer(
        batch_size=8, max_iter=3, n_iter_no_change=10, scaling=None, random_state=0
    ).fit(X)
    # 3 epochs of 130 rows: 16 full batches and one of 2 each.
    assert [len(b) for b in batches] == 3 * ([8] * 16 + [2])
    epochs = [torch.cat(batches[i * 17 : (i + 1) * 17]).numpy() for i in range(3)]
    for rows in epochs:
        np.testing.assert_array_equal(np.unique(rows, axis=0), np.unique(X, axis=0))
    # Shuffled, and differently in each epoch.
    assert not np.array_equal(epochs[0], X)
    assert not np.array_equal(epochs[0], epochs[1])


@pytest.mark.parametrize(
    "params",
    [
        {"optimizer": "adam"},
        {"optimizer": "adam", "weight_decay": 0.01},
        {"optimizer": "adamw", "weight_decay": 0.01},
        {"optimizer": "adam", "loss": "vae", "dropout": 0.2},
    ],
)
def test_lean_adam_step_updates_exactly_like_optimizer_step(monkeypatch, params):
    from skae import _net

    X = np.random.RandomState(0).normal(size=(150, 5))
    common = {"batch_size": 16, "max_iter": 4, "n_iter_no_change": 10, "random_state": 0}
    used = []
    original = _net.LeanAdamStep.step

    def counting(self):
        used.append(1)
        original(self)

    monkeypatch.setattr(_net.LeanAdamStep, "step", counting)
    lean = AutoencoderTransformer(**common, **params).fit(X)
    assert len(used) == 4 * 10  # every step of every epoch went through it
    monkeypatch.setattr(_net.LeanAdamStep, "for_optimizer", classmethod(lambda cls, opt: None))
    plain = AutoencoderTransformer(**common, **params).fit(X)
    assert lean.loss_curve_ == plain.loss_curve_
    for a, b in zip(lean.net_.module_.parameters(), plain.net_.module_.parameters()):
        assert torch.equal(a, b)
    state_a, state_b = lean.net_.optimizer_.state_dict(), plain.net_.optimizer_.state_dict()
    for key, value in state_a["state"].items():
        for name, tensor in value.items():
            assert torch.equal(tensor, state_b["state"][key][name]), name


def test_lean_adam_step_steps_aside_for_hooks_and_other_optimizers():
    from skae import _net

    module = torch.nn.Linear(3, 2)
    assert _net.LeanAdamStep.for_optimizer(torch.optim.SGD(module.parameters(), lr=0.1)) is None
    adam = torch.optim.Adam(module.parameters())
    assert _net.LeanAdamStep.for_optimizer(adam) is not None
    handle = adam.register_step_post_hook(lambda *args: None)
    assert _net.LeanAdamStep.for_optimizer(adam) is None
    handle.remove()
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    handle = register_optimizer_step_pre_hook(lambda *args: None)
    try:
        assert _net.LeanAdamStep.for_optimizer(adam) is None
    finally:
        handle.remove()


def test_lean_adam_step_needs_a_functional_adam_that_decouples(monkeypatch):
    # Before torch 2.7 adam() had no decoupled_weight_decay argument and
    # AdamW its own update: the optimizers must then step themselves.
    from skae import _net

    monkeypatch.setattr(_net, "_FUNCTIONAL_ADAM_DECOUPLES", False)
    adam = torch.optim.Adam(torch.nn.Linear(3, 2).parameters())
    assert _net.LeanAdamStep.for_optimizer(adam) is None
    X = np.random.RandomState(0).normal(size=(60, 4))
    AutoencoderTransformer(max_iter=2, batch_size=16, random_state=0).fit(X)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_training_memory_stays_bounded():
    # An epoch must not keep batch-sized buffers alive until its end: a kept
    # reference to mse_loss's result did, which added one more copy of the
    # data (80 MB here) to the peak: 125 MB in all, against ~50 MB (chunked
    # scaling statistics and batches) without it.
    script = textwrap.dedent(
        """
        import numpy as np, torch
        from skae import AutoencoderTransformer

        def status_mb(field):
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        return int(line.split()[1]) / 1024

        torch.set_num_threads(1)
        X = np.random.RandomState(0).normal(size=(50_000, 400)).astype(np.float32)
        params = dict(hidden_layer_sizes=(8,), n_iter_no_change=99, random_state=0)
        AutoencoderTransformer(max_iter=1, **params).fit(X[:5000])  # warm up
        before = status_mb("VmRSS")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to the current RSS
        AutoencoderTransformer(max_iter=2, **params).fit(X)
        print(status_mb("VmHWM") - before)
        """
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    growth = float(result.stdout)
    assert growth < 80, f"fitting 80 MB of data raised the peak RSS by {growth:.0f} MB"
