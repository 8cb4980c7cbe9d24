"""``AutoencoderOutlierDetector``: reconstruction-error outlier scores."""

from numbers import Real

import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import SHARED_ATTRIBUTES_DOC, SHARED_PARAMETERS_DOC, BaseAutoencoder

# contamination="auto": Tukey's upper fence, Q3 + 1.5 IQR, on the training
# reconstruction errors.  It is robust to the outliers it looks for (quartiles
# ignore the tail) and, for exponentially distributed errors, flags ~5 %.
TUKEY_K = 1.5


class AutoencoderOutlierDetector(OutlierMixin, BaseAutoencoder):
    """Outlier detection by autoencoder reconstruction error.

        Rows that the autoencoder reconstructs badly are unlike the training
        data.  Follows scikit-learn's outlier conventions: :meth:`score_samples`
        is higher for normal rows, ``decision_function = score_samples -
        offset_`` and :meth:`predict` returns +1 for inliers and -1 for
        outliers.

        Parameters
        ----------
        n_components : int or None, default=None
            Size of the code; None uses ``max(1, n_features // 2)``.

        contamination : "auto" or float in (0, 0.5], default="auto"
            Expected share of outliers in the training data.  A float sets
            ``offset_`` to that percentile of the training scores, as
            ``IsolationForest`` does.  "auto" uses Tukey's upper fence on
            the training reconstruction errors: a row is an outlier when its
            error exceeds ``Q3 + 1.5 * IQR`` of the training errors, which is
            robust to the outliers themselves.

    %(shared)s
        Attributes
        ----------
        offset_ : float
            Threshold on :meth:`score_samples`; ``decision_function`` is
            ``score_samples - offset_``.

    %(attributes)s
        See Also
        --------
        AutoencoderTransformer : Dimensionality reduction with the same networks.
        sklearn.ensemble.IsolationForest : A tree-based detector.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderOutlierDetector
        >>> rng = np.random.RandomState(0)
        >>> X = rng.normal(size=(200, 4))
        >>> X[:5] += 8  # five planted outliers
        >>> det = AutoencoderOutlierDetector(contamination=0.025, max_iter=30, random_state=0)
        >>> labels = det.fit_predict(X)
        >>> sorted(set(labels.tolist()))
        [-1, 1]
        >>> np.flatnonzero(labels == -1).tolist()
        [0, 1, 2, 3, 4]
    """

    _parameter_constraints = {
        **BaseAutoencoder._parameter_constraints,
        "hidden_layer_sizes": ["array-like", StrOptions({"auto"})],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(
        self,
        *,
        n_components=None,
        contamination="auto",
        hidden_layer_sizes="auto",
        activation="relu",
        dropout=0.0,
        loss="mse",
        huber_delta=1.0,
        sparsity_weight=0.1,
        noise_level=0.2,
        kl_weight=1.0,
        optimizer="adam",
        learning_rate_init=1e-3,
        weight_decay=0.0,
        batch_size=256,
        max_iter=200,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        scaling="auto",
        device="cpu",
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.n_components = n_components
        self.contamination = contamination
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.loss = loss
        self.huber_delta = huber_delta
        self.sparsity_weight = sparsity_weight
        self.noise_level = noise_level
        self.kl_weight = kl_weight
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scaling = scaling
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    def _default_n_components(self, n_features):
        return max(1, n_features // 2)

    def _hidden_layer_sizes(self):
        if isinstance(self.hidden_layer_sizes, str):
            return (self.n_features_in_,)
        return super()._hidden_layer_sizes()

    def _after_fit(self, X):
        errors = self._reconstruction_errors(X)
        if self.contamination == "auto":
            q1, q3 = np.percentile(errors, [25, 75])
            self.offset_ = -float(q3 + TUKEY_K * (q3 - q1))
        else:
            self.offset_ = float(np.percentile(-errors, 100 * self.contamination))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # It also encodes rows (transform) and decodes codes (inverse_transform).
        tags.transformer_tags = TransformerTags()
        return tags

    def fit_transform(self, X, y=None):
        """Fit, then encode the training rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_components)
            Codes of the training rows.
        """
        return self.fit(X).transform(X)

    def feature_errors(self, X):
        """Each feature's share of each row's reconstruction error.

        The entries are squared errors in units of the training standard
        deviation, ``((x - x_hat) / std) ** 2``; their row means are minus
        :meth:`score_samples`.  Large entries show which columns make a row
        abnormal.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to explain.

        Returns
        -------
        errors : ndarray of shape (n_samples, n_features)
            Per-feature squared standardized errors.
        """
        return self._feature_errors(self._check_X(X))

    def decision_function(self, X):
        """Shifted scores: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label rows: +1 for inliers, -1 for outliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to label.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            +1 where ``decision_function(X) >= 0``, else -1.
        """
        check_is_fitted(self)
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def calibrate(self, X):
        """Set ``offset_`` from rows ``X``, without training.

        ``fit`` sets ``offset_`` from all training rows, but each
        ``partial_fit`` call sets it from its own chunk only.  After
        streaming, call ``calibrate`` on the whole data set or on a
        representative sample (scoring is batched, so memory stays bounded
        by the size of ``X`` itself) to apply the ``contamination`` rule to
        the final model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows representative of the training data.

        Returns
        -------
        self : object
            The detector, with a new ``offset_``.
        """
        self._after_fit(self._check_X(X))
        return self


AutoencoderOutlierDetector.__doc__ = AutoencoderOutlierDetector.__doc__ % {
    "shared": SHARED_PARAMETERS_DOC.format(
        hidden='"auto"', dropout="0.0", lr="1e-3", batch="256", max_iter="200"
    ).replace(
        "Widths of the encoder's hidden layers; the decoder mirrors them.",
        "Widths of the encoder's hidden layers; the decoder mirrors them.\n"
        '        "auto" uses one hidden layer as wide as the input.',
    ),
    "attributes": SHARED_ATTRIBUTES_DOC,
}
