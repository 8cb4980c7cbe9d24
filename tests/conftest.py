"""Shared fixtures: one torch thread and tiny data sets.

Also the warnings policy.  pyproject.toml makes every warning an error, so
that a warning skae's own code causes fails the suite.  What another package
says while it is being imported is not skae's doing: skorch imports
torch_geometric whenever it is installed, and that calls the deprecated
torch.jit.script under torch >= 2.11.  So the packages that skae and the
tests import are imported here first, before any test module, with their
warnings shown in pytest's summary instead of raised; importing skae after
that runs skae's own code only, under the errors.
"""

import contextlib
import importlib
import warnings

_OTHER_PACKAGES = (
    # skae's dependencies, down to the modules skae imports from them
    "numpy",
    "scipy.sparse",
    "pandas",
    "sklearn.base",
    "sklearn.exceptions",
    "sklearn.utils._param_validation",
    "sklearn.utils.validation",
    "sklearn.utils.estimator_checks",
    "skorch",
    "skorch.callbacks",
    "torch",
    "torch.optim",
    "tqdm.auto",
    # what the tests import, where it is installed
    "joblib",
    "hypothesis",
    "dask.array",
    "distributed",
    "dask_ml.wrappers",
)

with warnings.catch_warnings():
    warnings.simplefilter("default")
    for _name in _OTHER_PACKAGES:
        with contextlib.suppress(ImportError):
            importlib.import_module(_name)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

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
