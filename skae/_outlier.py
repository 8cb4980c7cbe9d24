"""``AutoencoderOutlierDetector``: reconstruction-error outlier scores."""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import ClassNamePrefixFeaturesOutMixin, OutlierMixin, TransformerMixin
from sklearn.utils import TransformerTags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ._base import SHARED_PARAMETERS_DOC, BaseAutoencoder, fill_docstring
from ._networks import EnsembleAutoencoder
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
# (n_samples // MEDIAN_ROWS)-th training row, and on fewer rows where the
# members' per-feature errors would exceed MEDIAN_VALUES values (128 MiB).
MEDIAN_ROWS = 10_000
MEDIAN_VALUES = 2**25

# A feature's error median counts as at least this share of the mean median
# over features, so a feature reconstructed almost perfectly in training
# (a constant column) cannot dominate every score.
MEDIAN_FLOOR = 0.01

# trim_fraction: rows are dropped after this share of the epochs.
TRIM_AFTER = 0.3

# The members of the ensemble differ by construction, not by tuning: member
# k of m has hidden layers WIDTH_SPREAD[0]..WIDTH_SPREAD[1] times the
# hidden_layer_sizes (evenly spaced), and its own initialization and dropout
# masks.  A single member (n_estimators=1) has the full width.  Splitting
# the "auto" width among the members instead (members 1/8 as wide) was
# measured and rejected: -1.8 ROC-AUC on the twenty sets, worse on both
# halves (benchmarks/README.md, variant D).
WIDTH_SPREAD = (0.5, 1.0)

# max_steps is the budget of a step of at most this many values (8 members x
# 256 rows x 128 features); steps over more values (wider data) get
# proportionally fewer steps.
STEP_VALUES = 8 * 256 * 128


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
        layer, ``max(1, min(n_inputs, 128) // 2)``, where ``n_inputs`` is
        the number of columns (with categorical columns: the numeric ones
        plus one one-hot input per category).

    contamination : "auto" or float in (0, 0.5], default="auto"
        Expected share of outliers in the training data.  A float sets
        ``offset_`` to that percentile of the training scores, as
        ``IsolationForest`` does.  "auto" uses Tukey's "far out" fence
        on the training scores: a row is an outlier when its outlier score
        (minus :meth:`score_samples`) exceeds ``Q3 + 3 * IQR`` of the
        training rows' scores, which is robust to the outliers themselves;
        when no training row is beyond the fence, the fence moves just below
        the largest training score, so that ``fit_predict`` always flags the
        most outlying training row (unless every training row scores the
        same, as on constant data: then none is an outlier).

    max_steps : int or None, default=1000
        Training budget in optimizer steps: ``fit`` trains at most
        ``max_steps // ceil(n_samples / batch_size)`` epochs (at least
        one, at most ``max_iter``), so large data sets cost no more than
        small ones.  A step over more than ``8 x 256 x 128`` values
        (``n_estimators x batch_size x n_features``, wide data) counts as
        proportionally more than one, so wide data costs no more either.
        No ``ConvergenceWarning`` is raised when the budget or ``max_iter``
        ends training: training is a fixed effort.  None trains up to
        ``max_iter`` epochs, with scikit-learn's warning when they end it.
        ``partial_fit`` always trains one epoch.

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

    n_estimators : int, default=8
        Number of autoencoders in the ensemble.  They are trained together
        as one batched network (stacked weights, one batched matrix product
        per layer), on the same batches, and differ in their
        initialization, dropout masks and hidden widths (from half to all of
        ``hidden_layer_sizes``, evenly spaced).  Each member's per-feature
        errors are divided by that member's own training medians before
        they are averaged, so no member dominates.  An average of diverse
        models depends less on any one model's luck than the best single
        model does, which is what makes it hold on data sets it was never
        tuned on.  1 trains a single autoencoder.

    %(shared)s
    Attributes
    ----------
    offset_ : float
        Threshold on :meth:`score_samples`; ``decision_function`` is
        ``score_samples - offset_``.

    error_median_ : ndarray of shape (n_estimators, `n_features_in_`) or None
        Per member, the median over the training rows of each feature's
        squared standardized error (at least 1 %% of their mean over
        features), estimated on every ``n_samples // 10000``-th training row
        (all rows below 20,000; fewer for very wide data), over the rows
        where the feature is observed; None unless
        ``error_normalization="median"``.

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
    seeds), under rules fixed before looking: a change is kept only when it
    wins on both halves of those sets and on synthetic anomalies of four
    kinds.  The log of every variant tried is in ``benchmarks/README.md``.

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
        "n_estimators": [Count(Integral, 1, None, closed="left")],
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
        n_estimators=8,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        scaling="auto",
        device="cpu",
        random_state=None,
        verbose=0,
        warm_start=False,
        module=None,
        module_params=None,
        categorical_features="from_dtype",
        max_categories=64,
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
        self.n_estimators = n_estimators
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.scaling = scaling
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.module = module
        self.module_params = module_params
        self.categorical_features = categorical_features
        self.max_categories = max_categories

    def _code_width_text(self):
        module = self.net_.module_
        return f"n_estimators={module.n_members} codes of n_components={module.member_components}"

    def _default_n_components(self, n_features):
        return max(1, min(n_features, AUTO_MAX_WIDTH) // 2)

    def _hidden_layer_sizes(self):
        if isinstance(self.hidden_layer_sizes, str):
            return (min(self._n_inputs(), AUTO_MAX_WIDTH),)
        return super()._hidden_layer_sizes()

    def _epoch_budget(self, n_rows):
        if self.max_steps is None:
            return self.max_iter
        batch = min(self.batch_size, n_rows)
        steps_per_epoch = math.ceil(n_rows / batch)
        # Wide data: an ensemble's step touches members x batch x features
        # values; beyond STEP_VALUES per step, fewer steps keep the cost of
        # a fit that of a 128-feature one.
        values = self.n_estimators * batch * self._n_inputs()
        steps = min(self.max_steps, max(1, round(self.max_steps * STEP_VALUES / values)))
        return max(1, min(self.max_iter, steps // steps_per_epoch))

    def _warns_at_max_iter(self):
        # With a step budget, max_iter is part of the budget: training for
        # a fixed effort, as the defaults do, is no sign of trouble.
        return self.max_steps is None

    def _trim_schedule(self, epochs):
        if self.trim_fraction == 0:
            return None
        return self.trim_fraction, math.ceil(TRIM_AFTER * epochs)

    def _error_weights(self):
        weights = super()._error_weights()
        if getattr(self, "error_median_", None) is not None:
            weights = weights / self.error_median_
        return weights

    def _module_spec(self, spec):
        if self.module is not None:
            return self._user_module(spec, n_members=self.n_estimators), {}
        m = self.n_estimators
        spread = np.linspace(0.0, 1.0, m) if m > 1 else np.ones(1)
        fractions = WIDTH_SPREAD[0] + (WIDTH_SPREAD[1] - WIDTH_SPREAD[0]) * spread
        return EnsembleAutoencoder, {
            "n_features": self._n_inputs(),
            "n_components": self._n_components(),
            "n_members": m,
            "hidden_layer_sizes": self._hidden_layer_sizes(),
            "width_fractions": fractions.tolist(),
            "dropout": self.dropout,
            "activation": self.activation,
            "output_activation": spec.output_activation,
            "n_activated": self._n_activated(),
            "variational": spec.variational,
        }

    def _net_defining_params(self):
        return {**super()._net_defining_params(), "n_estimators": self.n_estimators}

    def _after_fit(self, X):
        self._n_features_out = self.net_.module_.n_components
        self.error_median_ = None
        if self.error_normalization == "median":
            self.error_median_ = self._member_medians(X)
        errors = self._reconstruction_errors(X)
        if self.contamination == "auto":
            q1, q3 = np.percentile(errors, [25, 75])
            fence = q3 + TUKEY_K * (q3 - q1)
            if errors.max() > errors.min():
                # At most the largest training score: fit_predict always flags the
                # most outlying training row, even when none is beyond the fence.
                # (Rows that all score the same have no most outlying one.)
                fence = min(fence, np.nextafter(errors.max(), -np.inf))
            self.offset_ = -float(fence)
        else:
            self.offset_ = float(np.percentile(-errors, 100 * self.contamination))

    def _member_medians(self, X):
        """Each member's median squared standardized error per feature."""
        members = self.net_.module_.n_members
        rows = max(1, min(MEDIAN_ROWS, MEDIAN_VALUES // (members * X.shape[1])))
        sample = X[:: max(1, X.shape[0] // rows)]
        errors = np.empty((members, sample.shape[0], X.shape[1]), dtype=np.float32)
        holes = False
        for batch_rows, n_rows, sq_diff, weight, observed in self._error_batches(sample):
            errors[:, batch_rows] = sq_diff.mul_(weight)[:, :n_rows].cpu().numpy()
            if observed is not None:  # medians over the observed entries
                errors[:, batch_rows][:, observed[:n_rows].cpu().numpy() == 0] = np.nan
                holes = True
        if not holes:
            median = np.median(errors, axis=1).astype(np.float64)
        else:
            with warnings.catch_warnings():
                # A feature missing in every sampled row: its median is the
                # mean of the others' (below).
                warnings.simplefilter("ignore", RuntimeWarning)
                median = np.nanmedian(errors, axis=1).astype(np.float64)
            typical = np.nanmean(median, axis=1)
            median = np.where(np.isnan(median), typical[:, None], median)
        floor = MEDIAN_FLOOR * np.mean(median, axis=1, keepdims=True)
        return np.where(floor > 0, np.maximum(median, floor), 1.0)

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: minus the mean outlier score.

        Each detector measures errors against its own training medians,
        so this number does not compare detectors
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

        The outlier score is the row's reconstruction error: the mean over
        the ensemble's members and the features of ``((x - x_hat) / std) **
        2``, each divided by that member's ``error_median_`` for the feature
        with ``error_normalization="median"``; that is, the row mean of
        :meth:`feature_errors`.  It does not depend on ``loss`` or
        ``scaling``, and costs one forward pass of the ensemble.  A row
        with missing values (NaN) is scored by the mean over its observed
        features, on the same scale as complete rows; a row with every
        entry missing raises a ``ValueError``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the outlier score.
        """
        return -self._reconstruction_errors(self._check_X(X))

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
        codes : ndarray of shape (n_samples, n_estimators * n_components)
            Codes of the training rows, the members' side by side.
        """
        return self.fit(X).transform(X)

    def transform(self, X):
        """Encode ``X``: each member's ``n_components`` code, side by side.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to encode.

        Returns
        -------
        codes : ndarray or DataFrame of shape (n_samples, n_estimators * n_components)
            The codes, member 0's first; a DataFrame with columns ``autoencoderoutlierdetector0,
            ...`` when pandas output is set with ``set_output``.
        """
        # Defined here, not only inherited, so that set_output wraps it.
        return self._encode(X)

    def feature_errors(self, X):
        """Per-feature reconstruction errors: which columns make a row abnormal.

        This docstring is the one definition of these numbers; the user
        guide links here.  Entry ``(i, j)`` is the mean over the members
        ``k`` of the ensemble of

        ``((x_ij - x_hat_kij) / std_j) ** 2 / error_median_[k, j]``

        where ``x_hat_k`` is member ``k``'s reconstruction, ``std_j`` is
        feature ``j``'s training standard deviation (``error_scale_``) and
        ``error_median_[k, j]`` the median of the same squared error over
        the training rows.  So about 1 means "reconstructed as badly as a
        typical training row, on this feature" (exactly 1 at the median
        with ``n_estimators=1``), and 100 means a hundred times worse.
        With ``error_normalization=None`` there is no division: 1 then
        means an error of one standard deviation, which is what predicting
        the feature's mean costs on average.

        They are not shares: a row's entries do not sum to a fixed total
        and single entries can be very large.  Their mean over the features
        is the row's outlier score, minus :meth:`score_samples`.

        An entry missing in ``X`` (NaN) has no error: it is NaN there, and
        exactly there, and the row's score is the mean over its observed
        features (``np.nanmean`` of the row).

        A categorical column (``categorical_features``) has one entry too,
        with the surprise of its category in place of the squared
        standardized error: ``-log p_kij / H_j / error_median_[k, j]``,
        where ``p_kij`` is the probability member ``k``'s softmax head
        gives the row's category and ``H_j`` the column's training entropy
        (``error_scale_``); for a category unseen in training, the most
        surprising value (see the parameter's description).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to explain; NaN entries are missing values.

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
        >>> det = AutoencoderOutlierDetector(n_estimators=1, max_iter=10, random_state=0)
        >>> errors = det.fit(X).feature_errors(X)
        >>> np.allclose(np.median(errors, axis=0), 1.0)  # typical training row: 1
        True
        >>> det = AutoencoderOutlierDetector(max_iter=10, random_state=0).fit(X)
        >>> errors = det.feature_errors(X)
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


fill_docstring(
    AutoencoderOutlierDetector,
    SHARED_PARAMETERS_DOC.format(
        hidden='"auto"', dropout="0.3", lr="1e-3", batch="256", max_iter="200"
    ).replace(
        "Widths of the encoder's hidden layers; the decoder mirrors them.",
        "Widths of the encoder's hidden layers; the decoder mirrors them.\n"
        '        "auto" uses one hidden layer as wide as the network\'s input (one per\n'
        "        numeric column and per category), at most 128.",
    ),
)
