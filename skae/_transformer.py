"""``AutoencoderTransformer``: dimensionality reduction for Pipelines."""

from numbers import Integral

from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import check_is_fitted

from ._base import SHARED_PARAMETERS_DOC, BaseAutoencoder, fill_docstring


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseAutoencoder):
    """Autoencoder dimensionality reduction.

    Trains a fully connected autoencoder and encodes rows into
    ``n_components`` columns.  It scales its inputs itself, accepts dense and
    sparse input, and works inside a ``Pipeline`` and ``GridSearchCV``.

    Parameters
    ----------
    n_components : int, default=2
        Size of the code.  It may exceed the number of features (an
        overcomplete code); then use "sparse", "denoise" or dropout so that
        the network does not simply learn the identity.

    %(shared)s
    Attributes
    ----------
    %(attributes)s
    See Also
    --------
    AutoencoderOutlierDetector : Outlier scores from the same networks.
    sklearn.decomposition.PCA : The linear baseline.

    Notes
    -----
    :meth:`score` is minus the mean reconstruction error in standardized
    units, independent of the training loss, so ``GridSearchCV`` without a
    ``scoring`` argument can choose the loss.

    Examples
    --------
    >>> from sklearn.datasets import load_wine
    >>> from skae import AutoencoderTransformer
    >>> X, _ = load_wine(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=2, max_iter=20, random_state=0)
    >>> ae.fit_transform(X).shape
    (178, 2)
    >>> ae.inverse_transform(ae.transform(X[:3])).shape
    (3, 13)
    >>> ae.get_feature_names_out().tolist()
    ['autoencodertransformer0', 'autoencodertransformer1']
    """

    def __init__(
        self,
        *,
        n_components=2,
        hidden_layer_sizes=(128,),
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
        batch_size=64,
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
        module=None,
        module_params=None,
        categorical_features="from_dtype",
        max_categories=64,
    ):
        self.n_components = n_components
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
        self.module = module
        self.module_params = module_params
        self.categorical_features = categorical_features
        self.max_categories = max_categories

    def _after_fit(self, X):
        self._n_features_out = self.net_.module_.n_components

    def transform(self, X):
        """Encode ``X`` into ``n_components`` columns.

        For ``loss="vae"`` this is the posterior mean, so it is
        deterministic.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to encode.

        Returns
        -------
        codes : ndarray or DataFrame of shape (n_samples, n_components)
            The codes; a DataFrame with columns ``autoencodertransformer0, ...``
            when pandas output is set with ``set_output``.
        """
        # Defined here, not only inherited, so that scikit-learn's set_output
        # wraps it (it wraps the methods a class defines itself).
        return self._encode(X)

    @validate_params(
        {
            "n_samples": [Interval(Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def sample(self, n_samples=1, random_state=None):
        """Generate new rows from a variational autoencoder.

        Codes are drawn from the prior ``N(0, I)`` and decoded to the
        original feature space.  Needs ``loss="vae"``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw of the codes.

        Returns
        -------
        X_new : ndarray or DataFrame of shape (n_samples, `n_features_in_`)
            Generated rows in the units of the training data; a DataFrame
            with the training column names when pandas output is set with
            ``set_output(transform="pandas")``.

        Examples
        --------
        >>> from sklearn.datasets import load_wine
        >>> from skae import AutoencoderTransformer
        >>> X, _ = load_wine(return_X_y=True)
        >>> vae = AutoencoderTransformer(loss="vae", max_iter=20, random_state=0).fit(X)
        >>> vae.sample(5, random_state=0).shape
        (5, 13)
        """
        check_is_fitted(self)
        # What the model was fitted with, whatever set_params did since.
        module = self.net_.module_
        if not getattr(module, "variational", False):
            raise ValueError(
                "sample() draws from the prior of a variational autoencoder, but this "
                f"model was trained with loss={self._built_with_['loss']!r}; fit with "
                "loss='vae'."
            )
        codes = check_random_state(random_state).standard_normal((n_samples, module.n_components))
        return self._table(self._decode(codes))


fill_docstring(
    AutoencoderTransformer,
    SHARED_PARAMETERS_DOC.format(
        hidden="(128,)", dropout="0.0", lr="1e-3", batch="64", max_iter="200"
    ),
)
