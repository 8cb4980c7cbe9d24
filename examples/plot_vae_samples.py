"""
New digits from a variational autoencoder
=========================================

With ``loss="vae"`` the encoder outputs a mean and a log-variance, training
adds ``KL(q(z|x) || N(0, I))`` to the reconstruction loss, and
:meth:`~skae.AutoencoderTransformer.sample` decodes draws from the prior
``N(0, I)`` into new rows. Here the rows are 8x8 images of digits.
"""

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skae import AutoencoderTransformer

warnings.simplefilter("ignore", ConvergenceWarning)
X, _ = load_digits(return_X_y=True)
vae = AutoencoderTransformer(
    loss="vae", n_components=8, hidden_layer_sizes=(128,), max_iter=300, random_state=0
).fit(X)
samples = vae.sample(32, random_state=0).clip(0, 16)

fig, axes = plt.subplots(4, 8, figsize=(8, 4.4))
for ax, image in zip(axes.ravel(), samples):
    ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=16)
    ax.axis("off")
fig.suptitle("Digits sampled from the VAE's prior")
fig.savefig("vae_samples.png", dpi=100)
print("saved vae_samples.png")
