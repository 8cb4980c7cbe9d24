"""
A convolutional autoencoder on the digits, beside the default network
=====================================================================

The digits are 8 x 8 images. A small convolutional autoencoder reshapes
each row to one 1 x 8 x 8 channel, encodes it with ``Conv2d`` layers into a
flat code, and decodes with ``ConvTranspose2d``. Given as ``module``, it
gets skae's scaling, training loop, scores and outlier thresholds. It is
compared with the default fully connected network on held-out digits: the
reconstruction error of the transformer, and the outlier scores of the
detector trained on the digits 0-8, where the 9s are the outliers.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from torch import nn

from skae import AutoencoderOutlierDetector, AutoencoderTransformer

warnings.simplefilter("ignore", ConvergenceWarning)


class ConvAutoencoder(nn.Module):
    def __init__(self, n_components=8, channels=16):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, channels, 3, stride=2, padding=1),  # 16 x 4 x 4
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=2, padding=1),  # 16 x 2 x 2
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(channels * 4, n_components),
        )
        self.decoder = nn.Sequential(
            nn.Linear(n_components, channels * 4),
            nn.ReLU(),
            nn.Unflatten(1, (channels, 2, 2)),
            nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1),  # 4 x 4
            nn.ReLU(),
            nn.ConvTranspose2d(channels, 1, 4, stride=2, padding=1),  # 8 x 8
            nn.Flatten(),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

common = {"n_components": 8, "max_iter": 60, "random_state": 0}
models = {
    "default network": AutoencoderTransformer(**common),
    "convolutional": AutoencoderTransformer(module=ConvAutoencoder, **common),
}
print("test reconstruction error (mean squared error in units of each pixel's std):")
for name, model in models.items():
    model.fit(X_train)
    print(f"  {name:<16} {-model.score(X_test):.3f}")

# Outliers: train on the digits 0-8, score held-out digits; 9s are outliers.
normal = X_train[y_train != 9]
is_nine = y_test == 9
detectors = {
    "default network": AutoencoderOutlierDetector(random_state=0),
    "convolutional": AutoencoderOutlierDetector(
        module=ConvAutoencoder, n_estimators=1, random_state=0
    ),
}
print("ROC-AUC of the outlier scores for the 9s among held-out digits:")
scores = {}
for name, det in detectors.items():
    scores[name] = -det.fit(normal).score_samples(X_test)
    print(f"  {name:<16} {roc_auc_score(is_nine, scores[name]):.3f}")

fig, axes = plt.subplots(3, 8, figsize=(10, 4))
rows = [("input", X_test[:8])] + [
    (name, model.inverse_transform(model.transform(X_test[:8]))) for name, model in models.items()
]
for ax_row, (name, images) in zip(axes, rows):
    for ax, image in zip(ax_row, images):
        ax.imshow(image.reshape(8, 8), cmap="gray_r")
        ax.set_xticks([])
        ax.set_yticks([])
    ax_row[0].set_ylabel(name, fontsize=8)
fig.suptitle("held-out digits and their reconstructions")
fig.tight_layout()

fig, ax = plt.subplots(figsize=(7, 3.5))
for name, values in scores.items():
    ax.hist(np.log10(values[~is_nine]), bins=40, alpha=0.5, label=f"{name}: digits 0-8")
    ax.hist(np.log10(values[is_nine]), bins=40, alpha=0.5, label=f"{name}: 9s")
ax.set_xlabel("log10 outlier score")
ax.legend(fontsize=7)
fig.tight_layout()
