"""``AutoencoderOutlierDetector``: reconstruction-error outlier scores."""

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, OutlierMixin, TransformerMixin
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import SHARED_PARAMETERS_DOC, BaseAutoencoder, fill_docstring
from ._validation import Count

# contamination="auto": Tukey's "far out" fence, Q3 + 3 IQR, on the training
# outlier scores.  It is robust to the outliers it looks for (quartiles ignore
# the tail); for exponentially distributed scores it flags ~1 %.  The inner
# fence, Q3 + 1.5 IQR, flagged 8-13 % of the rows of cardio, thyroid, Pima
# and satimage-2 (1-10 % outliers, Pima 35 %), against 4-10 % for this one,
# and 12 % of the inliers of the planted-outlier tests.
TUKEY_K = 3.0

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

# n_neighbors: the reference codes are those of at most this many training
# rows (every k-th of the rows kept), and queries are compared with them in
# blocks of NEIGHBOR_BLOCK rows, which bounds memory to NEIGHBOR_BLOCK x
# NEIGHBOR_ROWS float64 distances (16 MB).  4096 reference rows scored like
# 10,000 on the twenty ADBench sets (ROC-AUC 77.82 vs 77.79, AP 47.95 vs
# 47.96) in two thirds of the time.
NEIGHBOR_ROWS = 4096
NEIGHBOR_BLOCK = 512


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
        ``IsolationForest`` does.  "auto" uses Tukey's "far out" fence
        on the training scores: a row is an outlier when its outlier score
        (minus :meth:`score_samples`) exceeds ``Q3 + 3 * IQR`` of the
        training rows' scores, which is robust to the outliers themselves.

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

    n_neighbors : int or None, default=20
        Also score each row by how far its code lies from the codes of
        normal training rows: the mean Euclidean distance to its
        ``n_neighbors`` nearest reference codes.  The reference rows are
        the training rows the model reconstructs best (all but the worst
        ``trim_fraction``; at most 4,096 of them, evenly spaced).  The
        score is then minus the sum of the reconstruction error and this
        distance, each divided by its median over the training rows, so
        both count alike.  Rows unlike the training data are often both
        badly reconstructed and far from every normal code; outliers that
        the decoder happens to reconstruct well are caught by the second
        term.  None scores by reconstruction error alone, which makes
        scoring faster (the distances cost about ``n_samples x 4,096 x
        n_components`` multiply-adds).

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

    reference_codes_ : ndarray of shape (n_reference, n_components) or None
        Codes the neighbour distances are measured to; None when
        ``n_neighbors`` is None or fewer than two rows were fitted.

    reconstruction_median_, neighbor_median_ : float or None
        Medians over the training rows of the reconstruction error and of
        the neighbour distance (each reference row's distance leaving
        itself out), which put the two terms of the score on one scale;
        None without neighbour scoring.

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
    seeds): dropout 0.3, 20 %% trimming, median-normalized errors, a step
    budget and code-space neighbours.  The ablation and a leave-one-data-set-out check are in
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
        "hidden_layer_sizes": [
            "array-like",
            Count(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "max_steps": [Count(Integral, 1, None, closed="left"), None],
        "error_normalization": [StrOptions({"median"}), None],
        "trim_fraction": [Interval(Real, 0, 1, closed="left")],
        "n_neighbors": [Count(Integral, 1, None, closed="left"), None],
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
        n_neighbors=20,
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
        self.n_neighbors = n_neighbors
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
        self._n_features_out = self.net_.module_.n_components
        self.error_median_ = None
        if self.error_normalization == "median":
            step = max(1, X.shape[0] // MEDIAN_ROWS)
            median = np.median(self._feature_errors(X[::step]), axis=0)
            floor = MEDIAN_FLOOR * np.mean(median)
            self.error_median_ = np.maximum(median, floor) if floor > 0 else np.ones_like(median)
        self.reference_codes_ = self.reconstruction_median_ = self.neighbor_median_ = None
        errors = self._reconstruction_errors(X)
        if self.n_neighbors is not None and X.shape[0] >= 2:
            self._set_reference(X, errors)
            # A reference row counts itself among its neighbours here, so
            # training rows score a little more normal than new rows would;
            # measured on fresh rows, contamination=0.05 flagged 4-7 %.
            errors = self._outlier_scores(X)
        if self.contamination == "auto":
            q1, q3 = np.percentile(errors, [25, 75])
            self.offset_ = -float(q3 + TUKEY_K * (q3 - q1))
        else:
            self.offset_ = float(np.percentile(-errors, 100 * self.contamination))

    def _set_reference(self, X, errors):
        """Keep the codes of the best-reconstructed training rows, and the
        medians that put errors and neighbour distances on one scale."""
        kept = np.flatnonzero(errors <= np.quantile(errors, 1 - self.trim_fraction))
        if len(kept) < 2:
            kept = np.arange(X.shape[0])
        kept = kept[:: max(1, -(-len(kept) // NEIGHBOR_ROWS))]
        codes = self._codes(X[kept]).astype(np.float32)
        reference = torch.from_numpy(codes)
        distances = _mean_knn_distance(reference, reference, self.n_neighbors, skip_self=True)
        self.reference_codes_ = codes
        # Scoring uses the n_neighbors the reference was fitted with, not
        # one set later with set_params.
        self._fitted_neighbors_ = self.n_neighbors
        self.reconstruction_median_ = _positive_median(errors)
        self.neighbor_median_ = _positive_median(distances.numpy())

    def _outlier_scores(self, X):
        """Minus :meth:`score_samples`: the reconstruction error, plus the
        neighbour distance with both divided by their training medians."""
        if self.reference_codes_ is None:
            return self._reconstruction_errors(X)
        reference = torch.from_numpy(self.reference_codes_).to(self._scoring_device())

        def add_distances(errors, code):
            distances = _mean_knn_distance(code, reference, self._fitted_neighbors_)
            return errors.double() / self.reconstruction_median_ + distances / self.neighbor_median_

        return self._reconstruction_errors(X, combine=add_distances)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: minus the mean outlier score.

        Each detector measures errors and neighbour distances against its
        own training medians, so this number does not compare detectors
        with different parameters well.  To choose parameters, label a
        validation set and use ``GridSearchCV(..., scoring="roc_auc")``
        with +1 for inliers and -1 for outliers.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Higher means more normal rows.
        """
        return super().score(X, y)

    def score_samples(self, X):
        """Minus the outlier score of each row: higher means more normal.

        The score is the reconstruction error, the mean over features of
        ``((x - x_hat) / std) ** 2`` (each divided by ``error_median_``
        with ``error_normalization="median"``), plus with ``n_neighbors``
        the distance of the row's code to its nearest reference codes,
        each of the two divided by its training median.  It does not
        depend on ``loss`` or ``scaling``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the outlier score.
        """
        return -self._outlier_scores(self._check_X(X))

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
        """Per-feature reconstruction errors: which columns make a row abnormal.

        This docstring is the one definition of these numbers; the user
        guide links here.  Entry ``(i, j)`` is

        ``((x_ij - x_hat_ij) / std_j) ** 2 / error_median_[j]``

        where ``std_j`` is feature ``j``'s training standard deviation
        (``error_scale_``) and ``error_median_[j]`` the median of the same
        squared error over the training rows.  So 1 means "reconstructed as
        badly as a typical training row, on this feature", and 100 means a
        hundred times worse.  With ``error_normalization=None`` there is no
        division: 1 then means an error of one standard deviation, which is
        what predicting the feature's mean costs on average.

        They are not shares: a row's entries do not sum to a fixed total
        and single entries can be very large.  Their mean over the features
        is the row's reconstruction error: minus :meth:`score_samples` with
        ``n_neighbors=None``, its first term otherwise.

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

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderOutlierDetector
        >>> X = np.random.RandomState(0).normal(size=(300, 5))
        >>> det = AutoencoderOutlierDetector(n_neighbors=None, max_iter=10, random_state=0)
        >>> errors = det.fit(X).feature_errors(X)
        >>> np.allclose(np.median(errors, axis=0), 1.0)  # typical training row: 1
        True
        >>> np.allclose(errors.mean(axis=1), -det.score_samples(X))  # row means
        True
        >>> odd = X[:1].copy()
        >>> odd[0, 3] = 8.0  # one value far outside the training range
        >>> int(np.argmax(det.feature_errors(odd)))  # names the column that stands out
        3
        """
        errors = self._feature_errors(self._check_X(X))
        return self._feature_frame(errors, index=X.index if isinstance(X, pd.DataFrame) else None)

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
        check_is_fitted(self)
        self._validate_params()
        stage = self._stage(keep_fitted=True)
        stage._after_fit(stage._check_X(X))
        return self._commit(stage)


def _mean_knn_distance(queries, reference, k, skip_self=False):
    """Mean Euclidean distance of each query row to its ``k`` nearest
    reference rows (leaving out the nearest, the row itself, with
    ``skip_self``), in blocks of ``NEIGHBOR_BLOCK`` queries.

    Computed in float64: ``|q|^2 + |r|^2 - 2 q.r`` loses the digits of
    close pairs in float32.
    """
    queries, reference = queries.double(), reference.double()
    k = min(k + skip_self, len(reference))
    reference_sq = reference.square().sum(dim=1)
    out = []
    for start in range(0, len(queries), NEIGHBOR_BLOCK):
        block = queries[start : start + NEIGHBOR_BLOCK]
        sq = torch.addmm(reference_sq, block, reference.T, alpha=-2.0)
        sq.add_(block.square().sum(dim=1, keepdim=True)).clamp_(min=0.0)
        nearest = sq.topk(k, dim=1, largest=False).values[:, int(skip_self) :]
        out.append(nearest.sqrt_().mean(dim=1))
    return torch.cat(out)


def _positive_median(values):
    """The median, or the mean where the median is 0 (over half the rows
    reconstructed or matched exactly), or 1 where both are."""
    for statistic in (np.median, np.mean):
        value = float(statistic(values))
        if value > 0 and math.isfinite(value):
            return value
    return 1.0


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
