"""CUDA paths; skipped where no GPU is present (CI never depends on one)."""

import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from skae import AutoencoderOutlierDetector, AutoencoderTransformer, _net

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

FAST = {"hidden_layer_sizes": (8,), "max_iter": 3, "random_state": 0}


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(500, 6))


@pytest.mark.parametrize("cls", [AutoencoderTransformer, AutoencoderOutlierDetector])
def test_trains_and_scores_on_the_gpu(cls, X):
    est = cls(device="cuda", **FAST).fit(X)
    assert next(est.net_.module_.parameters()).device.type == "cuda"
    scores = est.score_samples(X)
    assert scores.dtype == np.float64 and np.all(np.isfinite(scores))
    cpu = cls(device="cpu", **FAST).fit(X)
    np.testing.assert_allclose(scores, cpu.score_samples(X), rtol=1e-3, atol=1e-4)


def test_data_moves_to_the_gpu_once_per_fit(monkeypatch, X):
    moves = []
    original = _net.RowSource.__init__

    def spy(self, data, device="cpu"):
        original(self, data, device)
        moves.append(self.device.type)

    monkeypatch.setattr(_net.RowSource, "__init__", spy)
    AutoencoderTransformer(device="cuda", batch_size=32, **{**FAST, "max_iter": 5}).fit(X)
    # One copy to the GPU serves all 16 batches x 5 epochs and the final
    # finiteness check.
    assert moves == ["cuda"]


def test_cuda_model_unpickles_on_a_cpu_only_machine(tmp_path, X):
    est = AutoencoderOutlierDetector(device="cuda", **FAST).fit(X)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(est))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", est.score_samples(X))
    code = (
        "import pickle, warnings, numpy as np, torch; "
        "assert not torch.cuda.is_available(); "
        "warnings.simplefilter('ignore'); "
        f"est = pickle.loads(open({str(path)!r}, 'rb').read()); "
        f"X = np.load({str(tmp_path / 'X.npy')!r}); "
        f"expected = np.load({str(tmp_path / 'expected.npy')!r}); "
        "np.testing.assert_allclose(est.score_samples(X), expected, rtol=1e-4, atol=1e-5); "
        "print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"CUDA_VISIBLE_DEVICES": "", "PATH": ""},
        check=False,
    )
    assert result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize("cls", [AutoencoderTransformer, AutoencoderOutlierDetector])
def test_a_users_module_trains_and_scores_on_the_gpu(cls, X):
    """#20: a user's own autoencoder moves to the device with skae's adapter."""
    from _helpers import TinyAE

    params = {"module": TinyAE, "max_iter": 3, "random_state": 0}
    if cls is AutoencoderOutlierDetector:
        params["n_estimators"] = 2
    est = cls(device="cuda", **params).fit(X)
    assert all(p.device.type == "cuda" for p in est.net_.module_.parameters())
    scores = est.score_samples(X)
    assert np.all(np.isfinite(scores))
    cpu = cls(device="cpu", **params).fit(X)
    np.testing.assert_allclose(scores, cpu.score_samples(X), rtol=1e-3, atol=1e-4)
