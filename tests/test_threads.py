"""The thread policy: one thread for small work, the user's budget for big
work, and never a dependence on what else runs on the machine."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skae import AutoencoderTransformer, _base


@pytest.fixture
def small():
    X = np.random.RandomState(0).normal(size=(50, 512))
    return AutoencoderTransformer(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X)


@pytest.fixture
def big():
    X = np.random.RandomState(0).normal(size=(50, 512))
    return AutoencoderTransformer(hidden_layer_sizes=(1024,), max_iter=1, random_state=0).fit(X)


def test_big_batches_use_the_budget(monkeypatch, big):
    monkeypatch.setattr(_base, "thread_budget", lambda: 2)
    assert big._threads(2048) == 2


def test_small_work_uses_one_thread(monkeypatch, small, big):
    monkeypatch.setattr(_base, "thread_budget", lambda: 2)
    assert small._threads(256) == 1  # 512-4-2: ~1e6 multiply-adds per batch
    assert big._threads(1) == 1  # one row of a big network


def test_budget_of_one_is_honoured(monkeypatch, big):
    monkeypatch.setattr(_base, "thread_budget", lambda: 1)
    assert big._threads(2048) == 1


def test_thread_choice_follows_the_fitted_network_not_set_params(monkeypatch, small):
    monkeypatch.setattr(_base, "thread_budget", lambda: 2)
    small.set_params(hidden_layer_sizes=(4096, 4096), n_components=300)
    assert small._threads(2048) == 1
    small.set_params(hidden_layer_sizes=(0,))  # invalid, and never read after fit
    assert small.transform(np.zeros((3, 512))).shape == (3, 2)


# A network above the multithread threshold, fitted in a fresh process with
# two threads allowed; the weights' checksum is printed.
FIT = textwrap.dedent(
    """
    import hashlib, warnings
    import numpy as np, torch
    warnings.simplefilter("ignore")
    torch.set_num_threads(2)
    from skae import AutoencoderOutlierDetector
    X = np.random.RandomState(0).normal(size=(2048, 256)).astype(np.float32)
    det = AutoencoderOutlierDetector(
        hidden_layer_sizes=(512,), max_iter=2, batch_size=1024, random_state=0
    ).fit(X)
    assert det._threads(1024) == 2, det._threads(1024)
    state = det.net_.module_.state_dict()
    digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in state.values()))
    print(digest.hexdigest(), det.score_samples(X[:50]).tobytes().hex())
    """
)

BUSY = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"


def test_same_seed_same_model_under_load():
    """The same random_state gives the same model on a quiet machine and with
    a busy process beside it (before, the thread count followed the run
    queue, and 1 and 2 threads gave different weights)."""
    quiet = subprocess.run([sys.executable, "-c", FIT], capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
    try:
        loaded = subprocess.run([sys.executable, "-c", FIT], capture_output=True, text=True)
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout == quiet.stdout
