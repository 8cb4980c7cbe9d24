"""Shared fixtures: one torch thread and tiny data sets."""

import numpy as np
import pytest
import torch

# Two cores are shared by the whole suite: one intra-op thread keeps
# timings stable and avoids oversubscription when the machine is busy.
torch.set_num_threads(1)

# Small settings so every fit takes milliseconds.
FAST = {"hidden_layer_sizes": (8,), "max_iter": 5, "batch_size": 64, "random_state": 0}


@pytest.fixture
def blobs():
    """200 x 6 Gaussian rows with correlated columns."""
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(200, 2))
    mixing = rng.normal(size=(2, 6))
    return latent @ mixing + 0.1 * rng.normal(size=(200, 6))
