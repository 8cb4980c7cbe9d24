"""
Digits in two dimensions: autoencoder beside PCA
================================================

Both reducers map the 64 pixels of scikit-learn's handwritten digits to two
numbers. PCA keeps the two directions of largest variance; the autoencoder
learns a non-linear map and keeps the digit classes further apart.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import AutoencoderTransformer

X, y = load_digits(return_X_y=True)
reducers = {
    "PCA": make_pipeline(StandardScaler(), PCA(n_components=2)),
    "AutoencoderTransformer": make_pipeline(
        StandardScaler(), AutoencoderTransformer(n_components=2, random_state=0)
    ),
}

fig, axes = plt.subplots(1, 2, figsize=(11, 5))
for ax, (name, reducer) in zip(axes, reducers.items()):
    codes = reducer.fit_transform(X)
    points = ax.scatter(codes[:, 0], codes[:, 1], c=y, cmap="tab10", s=6)
    ax.set_title(f"{name} (2 components)")
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(points, ax=axes, label="digit")
fig.savefig("digits_embedding.png", dpi=100)
print("saved digits_embedding.png")
