"""The fast training path trains exactly like a plain torch loop.

A reference loop rebuilds the same module from the same seed, draws the
same permutation each epoch and steps the same optimizer.  If the slicing
iterator skipped a batch, shuffled differently or scaled wrongly, the loss
curves would part.
"""

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


def test_every_row_is_seen_once_per_epoch(monkeypatch):
    from skae import _net

    seen = []
    original = _net.ScaledRows.batch

    def spy(self, positions):
        batch = original(self, positions)
        seen.append(len(batch))
        return batch

    monkeypatch.setattr(_net.ScaledRows, "batch", spy)
    X = np.random.RandomState(0).normal(size=(130, 3))
    AutoencoderTransformer(batch_size=32, max_iter=3, n_iter_no_change=10, random_state=0).fit(X)
    # 3 epochs of 130 rows (4 full batches and one of 2), plus the final
    # finiteness check over all rows.
    assert sum(seen) == 4 * 130
    assert seen[:5] == [32, 32, 32, 32, 2]
