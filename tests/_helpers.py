"""Helpers shared by the test modules."""

import numpy as np
import torch

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

ESTIMATORS = [AutoencoderTransformer, AutoencoderOutlierDetector]


def no_trimming(cls):
    """Parameters that switch off the detector's robust training (row trimming),
    for tests of training mechanics that compare runs of different lengths."""
    return {"trim_fraction": 0.0} if cls is AutoencoderOutlierDetector else {}


def make_X(n_samples=40, n_features=4, seed=0):
    """Standard normal rows."""
    return np.random.RandomState(seed).normal(size=(n_samples, n_features))


def outputs(est, X):
    """Everything an estimator computes from rows, as a dict of arrays."""
    out = {"score_samples": est.score_samples(X), "transform": est.transform(X)}
    out["inverse_transform"] = est.inverse_transform(out["transform"])
    if hasattr(est, "predict"):
        out["decision_function"] = est.decision_function(X)
        out["predict"] = est.predict(X)
    return out


class TinyAE(torch.nn.Module):
    """A user's autoencoder as tutorials write it, for the common checks."""

    def __init__(self, n_features, n_components=2, width=4):
        super().__init__()
        self.encoder = torch.nn.Sequential(
            torch.nn.Linear(n_features, width),
            torch.nn.ReLU(),
            torch.nn.Linear(width, n_components),
        )
        self.decoder = torch.nn.Sequential(
            torch.nn.Linear(n_components, width),
            torch.nn.ReLU(),
            torch.nn.Linear(width, n_features),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))
