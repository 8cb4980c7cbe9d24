"""
Cleaning noisy digits with a denoising autoencoder
==================================================

``loss="denoise"`` corrupts the training inputs with Gaussian noise and
teaches the network to reconstruct the clean rows. Corruption happens only
while training: afterwards the model maps noisy images to clean-looking ones.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skae import AutoencoderTransformer

warnings.simplefilter("ignore", ConvergenceWarning)
# Pixels share one scale, so scale them together (to [0, 1]) rather than
# column by column: a border pixel that is always 0 must not blow up noise.
X, _ = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test = train_test_split(X, test_size=0.2, random_state=0)
rng = np.random.RandomState(0)
noisy = np.clip(X_test + rng.normal(scale=0.25, size=X_test.shape), 0, 1)

ae = AutoencoderTransformer(
    n_components=32,
    hidden_layer_sizes=(128,),
    loss="denoise",
    noise_level=0.25,
    scaling=None,
    random_state=0,
).fit(X_train)
cleaned = np.clip(ae.inverse_transform(ae.transform(noisy)), 0, 1)
print(
    f"mean squared error to the clean images: noisy {np.mean((noisy - X_test) ** 2):.2f}, "
    f"denoised {np.mean((cleaned - X_test) ** 2):.2f}"
)

fig, axes = plt.subplots(3, 10, figsize=(10, 3.4))
for col in range(10):
    for row, (images, name) in enumerate(
        [(noisy, "noisy"), (cleaned, "denoised"), (X_test, "clean")]
    ):
        axes[row, col].imshow(images[col].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[row, col].set_xticks([])
        axes[row, col].set_yticks([])
        if col == 0:
            axes[row, col].set_ylabel(name)
fig.tight_layout()
fig.savefig("denoising_digits.png", dpi=100)
print("saved denoising_digits.png")
