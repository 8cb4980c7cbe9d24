"""skae: scikit-learn compatible autoencoders, built on PyTorch and skorch."""

from ._outlier import AutoencoderOutlierDetector
from ._transformer import AutoencoderTransformer

__version__ = "0.1.0"

__all__ = ["AutoencoderOutlierDetector", "AutoencoderTransformer", "__version__"]
