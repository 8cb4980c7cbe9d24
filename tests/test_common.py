"""scikit-learn's estimator checks, for both estimators and every named loss."""

import pytest
from _helpers import TinyAE
from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoencoderOutlierDetector, AutoencoderTransformer
from skae._losses import LOSSES

# One tiny, full-batch, few-epoch instance per estimator and loss.
TINY = {"hidden_layer_sizes": (4,), "max_iter": 3, "batch_size": 512, "random_state": 0}

INSTANCES = [
    cls(loss=loss, **TINY)
    for cls in (AutoencoderTransformer, AutoencoderOutlierDetector)
    for loss in sorted(LOSSES)
]
# Users' own networks (#20), given as a class: the checks fit data of many
# widths, and skae passes each its n_features.
CUSTOM = [
    AutoencoderTransformer(module=TinyAE, module_params={"width": 3}, **TINY),
    AutoencoderOutlierDetector(module=TinyAE, n_estimators=2, **TINY),
]


def expected_failed_checks(estimator):
    return {}


@parametrize_with_checks(INSTANCES + CUSTOM, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_every_named_loss_is_checked():
    checked = {est.loss for est in INSTANCES}
    assert checked == set(LOSSES)
    assert len(INSTANCES) == 2 * len(LOSSES)


@pytest.mark.parametrize("cls", [AutoencoderTransformer, AutoencoderOutlierDetector])
def test_keyword_only_constructor(cls):
    with pytest.raises(TypeError):
        cls(2)
