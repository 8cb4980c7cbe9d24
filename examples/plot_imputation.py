"""
Filling missing values with an autoencoder
==========================================

skae's estimators take missing values (NaN) as they are: a hole enters the
network as its column's training mean and is left out of the loss, so the
model learns from every observed entry. Decoding a row's code,
``inverse_transform(transform(X))``, gives a value for every entry, the
holes included: the transformer is an imputer.

We remove 20 % of the entries of the breast cancer measurements at random,
train :class:`~skae.AutoencoderTransformer` on the training rows with their
holes, fill the holes of held-out rows, and compare the error at those holes
with scikit-learn's imputers: ``SimpleImputer`` (column means),
``KNNImputer`` and ``IterativeImputer``. Errors are mean squared errors in
units of each column's training standard deviation (1 is what a column's
mean costs on average).
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer

warnings.simplefilter("ignore", ConvergenceWarning)
X, _ = load_breast_cancer(return_X_y=True)
X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)


def remove_entries(X, fraction, seed):
    """``X`` with ``fraction`` of its entries set to NaN at random (never a whole row)."""
    holes = np.random.RandomState(seed).rand(*X.shape) < fraction
    holes[holes.all(axis=1), 0] = False
    X = X.copy()
    X[holes] = np.nan
    return X


train, test = remove_entries(X_train, 0.2, seed=0), remove_entries(X_test, 0.2, seed=1)
holes = np.isnan(test)
std = np.nanstd(train, axis=0)


def error_at_holes(filled):
    """Mean squared error at the held-out holes, in training standard deviations."""
    return np.mean(((filled - X_test) / std)[holes] ** 2)


ae = AutoencoderTransformer(n_components=4, hidden_layer_sizes=(64,), max_iter=300, random_state=0)
ae.fit(train)  # NaN and all: the holes are simply left out of the loss
reconstruction = ae.inverse_transform(ae.transform(test))
filled = np.where(holes, reconstruction, test)  # keep what was observed

errors = {"AutoencoderTransformer": error_at_holes(filled)}
for imputer in (SimpleImputer(), KNNImputer(), IterativeImputer(max_iter=20, random_state=0)):
    errors[type(imputer).__name__] = error_at_holes(imputer.fit(train).transform(test))

print(f"Error at {holes.sum()} held-out holes (MSE in training standard deviations):")
for name, value in errors.items():
    print(f"  {name:<23} {value:.3f}")

fig, ax = plt.subplots(figsize=(7, 3.5))
names = list(errors)
ax.barh(names, [errors[n] for n in names], color=["C1", "C0", "C0", "C0"])
ax.invert_yaxis()
ax.set_xlabel("MSE at held-out holes (training standard deviations)")
ax.set_title("Breast cancer, 20 % of entries missing at random")
fig.tight_layout()
fig.savefig("imputation.png", dpi=100)
print("saved imputation.png")
