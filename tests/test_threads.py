"""The thread policy: one thread for small work or a busy machine."""

import numpy as np
import pytest

from skae import AutoencoderTransformer, _base


@pytest.fixture
def fitted():
    X = np.random.RandomState(0).normal(size=(50, 512))
    return AutoencoderTransformer(hidden_layer_sizes=(4,), max_iter=1, random_state=0).fit(X)


def big(est):
    est.set_params(hidden_layer_sizes=(1024, 512))
    return est


@pytest.mark.parametrize("idle, expected", [(2.0, 2), (1.2, 1), (0.0, 1)])
def test_big_batches_use_the_idle_cores(monkeypatch, fitted, idle, expected):
    monkeypatch.setattr(_base, "thread_budget", lambda: 2)
    monkeypatch.setattr(_base, "idle_cores", lambda: idle)
    assert big(fitted)._threads(2048) == expected


def test_small_work_uses_one_thread_without_probing(monkeypatch, fitted):
    def probe():
        raise AssertionError("idle_cores must not be sampled for small work")

    monkeypatch.setattr(_base, "thread_budget", lambda: 2)
    monkeypatch.setattr(_base, "idle_cores", probe)
    assert fitted._threads(256) == 1  # 512-4-2: ~2e6 multiply-adds per batch
    assert big(fitted)._threads(1) == 1  # one row of a big network


def test_budget_of_one_is_honoured(monkeypatch, fitted):
    monkeypatch.setattr(_base, "thread_budget", lambda: 1)
    monkeypatch.setattr(_base, "idle_cores", lambda: 2.0)
    assert big(fitted)._threads(2048) == 1
