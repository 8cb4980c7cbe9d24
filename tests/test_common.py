"""scikit-learn's estimator checks, for both estimators and every named loss."""

import pytest
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


def expected_failed_checks(estimator):
    return {}


@parametrize_with_checks(INSTANCES, expected_failed_checks=expected_failed_checks)
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
