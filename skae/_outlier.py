"""``AutoencoderOutlierDetector``: reconstruction-error outlier scores."""

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import ClassNamePrefixFeaturesOutMixin, OutlierMixin, TransformerMixin
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import SHARED_PARAMETERS_DOC, BaseAutoencoder, fill_docstring
from ._utils import output_format

# contamination="auto": Tukey's upper fence, Q3 + 1.5 IQR, on the training
# reconstruction errors.  It is robust to the outliers it looks for (quartiles
# ignore the tail) and, for exponentially distributed errors, flags ~5 %.
TUKEY_K = 1.5

# hidden_layer_sizes="auto": one hidden layer as wide as the input, but no
# wider than this, so that wide data (thousands of columns) stays fast; the
# default code is half as wide.
AUTO_MAX_WIDTH = 128

# The per-feature error medians that normalize errors are estimated on every
# (n_samples // MEDIAN_ROWS)-th training row, which bounds their cost.
MEDIAN_ROWS = 10_000

# A feature's error median counts as at least this share of the mean median
# over features, so a feature reconstructed almost perfectly in training
# (a constant column) cannot dominate every score.
MEDIAN_FLOOR = 0.01

# trim_fraction: rows are dropped after this share of the epochs.
TRIM_AFTER = 0.3


class AutoencoderOutlierDetector(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, OutlierMixin, BaseAutoencoder
):
    """Outlier detection by autoencoder reconstruction error.

    Rows that the autoencoder reconstructs badly are unlike the training
    data.  Follows scikit-learn's outlier conventions: :meth:`score_samples`
    is higher for normal rows, ``decision_function = score_samples -
    offset_`` and :meth:`predict` returns +1 for inliers and -1 for
    outliers.

    Parameters
    ----------
    n_components : int or None, default=None
        Size of the code; None uses half the width of the "auto" hidden
        layer, ``max(1, min(n_features, 128) // 2)``.

    contamination : "auto" or float in (0, 0.5], default="auto"
        Expected share of outliers in the training data.  A float sets
        ``offset_`` to that percentile of the training scores, as
        ``IsolationForest`` does.  "auto" uses Tukey's upper fence on
        the training reconstruction errors: a row is an outlier when its
        error exceeds ``Q3 + 1.5 * IQR`` of the training errors, which is
        robust to the outliers themselves.

    max_steps : int or None, default=1000
        Training budget in optimizer steps: ``fit`` trains at most
        ``max_steps // ceil(n_samples / batch_size)`` epochs (at least
        one, at most ``max_iter``), so large data sets cost no more than
        small ones.  When the budget, not ``max_iter``, ends training, no
        ``ConvergenceWarning`` is raised.  None trains up to ``max_iter``
        epochs.  ``partial_fit`` always trains one epoch.

    error_normalization : "median" or None, default="median"
        "median" divides each feature's squared standardized error by
        its median over the training rows (``error_median_``) before
        averaging over features, so that features the network
        reconstructs well count as much as hard ones: an error is then
        measured against what is typical for its feature.  None averages
        the squared standardized errors as they are.

    trim_fraction : float in [0, 1), default=0.2
        Robust training: after 30 %% of the epochs, ``fit`` drops this
        share of the training rows, those reconstructed worst, and
        trains the remaining epochs without them, so that outliers in the
        training data shape the model less.  0 trains on all rows.

    %(shared)s
    Attributes
    ----------
    offset_ : float
        Threshold on :meth:`score_samples`; ``decision_function`` is
        ``score_samples - offset_``.

    error_median_ : ndarray of shape (`n_features_in_`,) or None
        Median over the training rows of each feature's squared
        standardized error (at least 1 %% of their mean over features),
        estimated on every ``n_samples // 10000``-th training row (all
        rows below 20,000); None unless ``error_normalization="median"``.

    %(attributes)s
    See Also
    --------
    AutoencoderTransformer : Dimensionality reduction with the same networks.
    sklearn.ensemble.IsolationForest : A tree-based detector.

    Notes
    -----
    The defaults are one setting for all data, chosen by measurement on
    twenty tabular outlier data sets of ADBench with
    ``benchmarks/bench_outliers.py`` (stratified 60/40 splits, three
    seeds): dropout 0.3, 20 %% trimming, median-normalized errors and a
    step budget.  The ablation and a leave-one-data-set-out check are in
    ``benchmarks/README.md``.

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
        "max_steps": [Interval(Integral, 1, None, closed="left"), None],
        "error_normalization": [StrOptions({"median"}), None],
        "trim_fraction": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        *,
        n_components=None,
        contamination="auto",
        hidden_layer_sizes="auto",
        activation="relu",
        dropout=0.3,
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
        max_steps=1000,
        error_normalization="median",
        trim_fraction=0.2,
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
        self.max_steps = max_steps
        self.error_normalization = error_normalization
        self.trim_fraction = trim_fraction
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
        return max(1, min(n_features, AUTO_MAX_WIDTH) // 2)

    def _hidden_layer_sizes(self):
        if isinstance(self.hidden_layer_sizes, str):
            return (min(self.n_features_in_, AUTO_MAX_WIDTH),)
        return super()._hidden_layer_sizes()

    def _epoch_budget(self, n_rows):
        if self.max_steps is None:
            return self.max_iter
        steps_per_epoch = math.ceil(n_rows / min(self.batch_size, n_rows))
        return max(1, min(self.max_iter, self.max_steps // steps_per_epoch))

    def _trim_schedule(self, epochs):
        if self.trim_fraction == 0:
            return None
        return self.trim_fraction, math.ceil(TRIM_AFTER * epochs)

    def _error_weights(self):
        weights = super()._error_weights()
        if getattr(self, "error_median_", None) is not None:
            weights = weights / self.error_median_
        return weights

    def _after_fit(self, X):
        self._n_features_out = self._n_components()
        self.error_median_ = None
        if self.error_normalization == "median":
            step = max(1, X.shape[0] // MEDIAN_ROWS)
            median = np.median(self._feature_errors(X[::step]), axis=0)
            floor = MEDIAN_FLOOR * np.mean(median)
            self.error_median_ = np.maximum(median, floor) if floor > 0 else np.ones_like(median)
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

    def transform(self, X):
        """Encode ``X`` into ``n_components`` columns.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to encode.

        Returns
        -------
        codes : ndarray or DataFrame of shape (n_samples, n_components)
            The codes; a DataFrame with columns ``autoencoderoutlierdetector0,
            ...`` when pandas output is set with ``set_output``.
        """
        # Defined here, not only inherited, so that set_output wraps it.
        return self._encode(X)

    def feature_errors(self, X):
        """Each feature's share of each row's reconstruction error.

        The entries are squared errors in units of the training standard
        deviation, ``((x - x_hat) / std) ** 2``, divided by ``error_median_``
        (each feature's median of that error over the training rows) when
        ``error_normalization="median"``.  Their row means are minus
        :meth:`score_samples`.  Large entries show which columns make a row
        abnormal.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to explain.

        Returns
        -------
        errors : ndarray or DataFrame of shape (n_samples, n_features)
            Per-feature errors; a DataFrame with the input's column names
            (``feature_names_in_``, else ``x0, x1, ...``) and, for a
            DataFrame input, its index, when pandas output is set with
            ``set_output(transform="pandas")``.
        """
        errors = self._feature_errors(self._check_X(X))
        if output_format(self) != "pandas":
            return errors
        columns = getattr(self, "feature_names_in_", None)
        if columns is None:
            columns = [f"x{i}" for i in range(self.n_features_in_)]
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(errors, columns=list(columns), index=index)

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
        """Set the scoring statistics and ``offset_`` from rows ``X``, without training.

        ``fit`` derives them from all training rows (the per-feature error
        medians of ``error_normalization="median"`` and the threshold
        ``offset_``), but each ``partial_fit`` call derives them from its own
        chunk only.  After streaming, call ``calibrate`` on the whole data
        set or on a representative sample (scoring is batched, so memory
        stays bounded by the size of ``X`` itself) to apply them to the final
        model.

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


fill_docstring(
    AutoencoderOutlierDetector,
    SHARED_PARAMETERS_DOC.format(
        hidden='"auto"', dropout="0.3", lr="1e-3", batch="256", max_iter="200"
    ).replace(
        "Widths of the encoder's hidden layers; the decoder mirrors them.",
        "Widths of the encoder's hidden layers; the decoder mirrors them.\n"
        '        "auto" uses one hidden layer as wide as the input, at most 128.',
    ),
)
