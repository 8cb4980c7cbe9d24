"""Torch modules: a multilayer encoder and a mirrored decoder.

These modules know nothing of scikit-learn or skorch.
"""

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "Autoencoder"]

ACTIVATIONS = {
    "identity": nn.Identity,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "selu": nn.SELU,
}

OUTPUT_ACTIVATIONS = {"identity": nn.Identity, "sigmoid": nn.Sigmoid}

# Bounds of the VAE's log-variance: exp(10) ~ 2e4 keeps exp() finite and the
# KL gradient bounded, so a wild learning rate cannot turn it into inf/NaN.
LOG_VAR_BOUNDS = (-10.0, 10.0)


def _mlp(sizes, activation, dropout):
    """Linear layers of ``sizes``; activation and dropout between them."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """A fully connected autoencoder.

    The encoder maps ``n_features -> *hidden_layer_sizes -> n_components``
    with a linear code layer; the decoder mirrors it back to ``n_features``.

    Parameters
    ----------
    n_features : int
        Input width.
    n_components : int
        Code width.
    hidden_layer_sizes : tuple of int
        Encoder hidden widths; the decoder uses them reversed.
    activation : str
        Key of ``ACTIVATIONS`` for the hidden layers.
    output_activation : {"identity", "sigmoid"}
        Activation of the reconstruction.
    dropout : float
        Dropout rate after each hidden activation, in training only.
    variational : bool
        If True the encoder outputs a mean and a log-variance; training
        samples the code by reparameterization, evaluation uses the mean.

    Notes
    -----
    ``forward`` returns ``(reconstruction, code, log_variance)``;
    ``log_variance`` is None unless ``variational``.
    """

    def __init__(
        self,
        n_features,
        n_components,
        hidden_layer_sizes=(),
        activation="relu",
        output_activation="identity",
        dropout=0.0,
        variational=False,
    ):
        super().__init__()
        hidden = list(hidden_layer_sizes)
        self.n_components = n_components
        self.variational = variational
        code_width = 2 * n_components if variational else n_components
        self.encoder = _mlp([n_features, *hidden, code_width], activation, dropout)
        self.decoder = _mlp([n_components, *hidden[::-1], n_features], activation, dropout)
        if output_activation != "identity":
            self.decoder.append(OUTPUT_ACTIVATIONS[output_activation]())

    def encode(self, x):
        """Return the code (the posterior mean for a VAE)."""
        return self.encoder(x)[:, : self.n_components]

    def decode(self, z):
        """Map codes back to the scaled feature space."""
        return self.decoder(z)

    def forward(self, x):
        h = self.encoder(x)
        if not self.variational:
            return self.decoder(h), h, None
        mean, log_var = h[:, : self.n_components], h[:, self.n_components :]
        log_var = log_var.clamp(*LOG_VAR_BOUNDS)
        z = mean
        if self.training:
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        return self.decoder(z), mean, log_var
