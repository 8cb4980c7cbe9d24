"""Torch modules: a multilayer encoder and a mirrored decoder, and an
ensemble of such autoencoders trained as one batched computation.

These modules know nothing of scikit-learn or skorch.

Shapes: a single autoencoder returns reconstructions of shape
``(batch, n_features)``; an ensemble of ``m`` members returns
``(m, batch, n_features)``, members first, so that ``x_hat - x`` broadcasts
the input batch over the members in both cases.
"""

import copy
import inspect
import math
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

__all__ = [
    "ACTIVATIONS",
    "Autoencoder",
    "EnsembleAutoencoder",
    "UserAutoencoder",
    "build_user_members",
    "check_user_module",
]

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


class LeadingColumns(nn.Module):
    """An activation on the first ``n`` output columns only: the numeric
    columns, ahead of categorical columns' logits, which stay raw for their
    softmax heads."""

    def __init__(self, activation, n):
        super().__init__()
        self.activation = activation
        self.n = n

    def forward(self, x):
        return torch.cat([self.activation(x[..., : self.n]), x[..., self.n :]], dim=-1)


def output_layer(name, n_activated=None):
    """The output activation ``name``, on every column (``n_activated`` None)
    or on the first ``n_activated``."""
    layer = OUTPUT_ACTIVATIONS[name]()
    if n_activated is None or name == "identity":
        return layer
    return LeadingColumns(layer, n_activated)


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
        n_activated=None,
    ):
        super().__init__()
        hidden = list(hidden_layer_sizes)
        self.n_components = n_components
        self.variational = variational
        code_width = 2 * n_components if variational else n_components
        self.encoder = _mlp([n_features, *hidden, code_width], activation, dropout)
        self.decoder = _mlp([n_components, *hidden[::-1], n_features], activation, dropout)
        if output_activation != "identity":
            self.decoder.append(output_layer(output_activation, n_activated))

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


@contextmanager
def evaluation(module):
    """Run a block with ``module`` in evaluation mode, then restore its mode."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


class _MemberLinear(nn.Module):
    """``m`` independent linear layers applied as one batched product.

    ``forward`` maps ``(batch, n_in)`` (shared by all members) or
    ``(m, batch, n_in)`` to ``(m, batch, n_out)``.  Each member's weights
    are initialized as ``nn.Linear`` initializes its own.
    """

    def __init__(self, n_members, n_in, n_out):
        super().__init__()
        bound = 1.0 / math.sqrt(n_in)
        self.weight = nn.Parameter(torch.empty(n_members, n_in, n_out).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_members, 1, n_out).uniform_(-bound, bound))

    @property
    def in_features(self):
        return self.weight.shape[1]

    @property
    def out_features(self):
        return self.weight.shape[2]

    def forward(self, x):
        if x.dim() == 2:
            x = x.expand(self.weight.shape[0], *x.shape)
        return torch.baddbmm(self.bias, x, self.weight)


def _dropped(h, p, kept):
    """``h`` with inverted dropout at rate ``p`` from one uniform draw: each
    entry zeroed with probability ``p``, the others multiplied by ``kept``."""
    return h * torch.rand_like(h).ge_(p).mul_(kept)


class _MemberUnits(nn.Module):
    """Each member's own hidden units, and dropout, as one product.

    Units beyond a member's own width are switched off (a fixed 0/1 mask),
    so that members of different widths share one stacked weight tensor.
    In training with ``dropout > 0``, the factor is also inverted dropout
    from a uniform draw, with its own masks for every member and row: the
    same as ``nn.Dropout`` in distribution, but about 3x faster on the CPU,
    where ``nn.Dropout``'s Bernoulli sampling was a third of a small
    ensemble's step.  The width mask and the dropout mask are multiplied
    into one factor before it meets the activations, so the layer costs one
    product (and one in the backward pass), not two.
    """

    # Modules pickled before dropout joined this layer (it followed as a
    # _Dropout layer of its own) have no rate.
    p = 0.0

    def __init__(self, widths, n_units, dropout=0.0):
        super().__init__()
        mask = torch.arange(n_units).view(1, 1, -1) < torch.as_tensor(widths).view(-1, 1, 1)
        self.register_buffer("mask", mask.float())
        self.p = float(dropout)

    def forward(self, h):
        if not self.training or self.p == 0:
            return h * self.mask
        kept = self.mask * (1.0 / (1.0 - self.p))  # (members, 1, units): tiny
        return _dropped(h, self.p, kept)


class _Dropout(nn.Module):
    """The dropout layer of ensembles pickled before dropout joined
    :class:`_MemberUnits`; kept so that they load and run as they did."""

    def forward(self, h):
        if not self.training or self.p == 0:
            return h
        return _dropped(h, self.p, 1.0 / (1.0 - self.p))


def _member_mlp(sizes, n_members, activation, dropout, hidden_widths):
    """Batched linear layers of ``sizes``; between them the activation, the
    members' own widths and dropout (its own masks for every member and row)."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(_MemberLinear(n_members, n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
            layers.append(_MemberUnits(hidden_widths[i], n_out, dropout))
    return nn.Sequential(*layers)


class EnsembleAutoencoder(nn.Module):
    """``m`` fully connected autoencoders trained and scored as one network.

    Member ``k`` has its own weights and initialization, its own hidden
    widths (``hidden_layer_sizes`` scaled by ``width_fractions[k]``) and its
    own dropout masks; all members share the code width.  Every layer is one
    batched matrix product over the stacked members, so an ensemble costs
    about what one network of the members' total width costs.

    Parameters
    ----------
    n_features, n_components : int
        Input width and code width of each member.
    n_members : int
        Number of autoencoders.
    hidden_layer_sizes : tuple of int
        Hidden widths of the widest member's encoder; decoders mirror them.
    width_fractions : sequence of float in (0, 1], length ``n_members``
        Each member's hidden widths as a share of ``hidden_layer_sizes``.
    dropout : float in [0, 1)
        Dropout rate after the hidden activations, with every member's
        own masks.
    activation, output_activation, variational
        As for :class:`Autoencoder`.

    Notes
    -----
    ``forward`` returns ``(reconstruction, code, log_variance)`` of shapes
    ``(m, batch, n_features)``, ``(m, batch, n_components)`` and the same or
    None.  ``encode`` returns the members' codes side by side, ``(batch,
    m * n_components)``; ``decode`` takes that and returns the members'
    mean reconstruction.
    """

    def __init__(
        self,
        n_features,
        n_components,
        n_members,
        hidden_layer_sizes=(),
        width_fractions=None,
        dropout=0.0,
        activation="relu",
        output_activation="identity",
        variational=False,
        n_activated=None,
    ):
        super().__init__()
        hidden = list(hidden_layer_sizes)
        fractions = np.ones(n_members) if width_fractions is None else np.asarray(width_fractions)
        widths = [np.maximum(1, np.round(size * fractions)).astype(int) for size in hidden]
        self.n_members = n_members
        self.member_components = n_components
        self.n_components = n_members * n_components
        self.variational = variational
        code_width = 2 * n_components if variational else n_components
        self.encoder = _member_mlp(
            [n_features, *hidden, code_width], n_members, activation, dropout, widths
        )
        self.decoder = _member_mlp(
            [n_components, *hidden[::-1], n_features], n_members, activation, dropout, widths[::-1]
        )
        if output_activation != "identity":
            self.decoder.append(output_layer(output_activation, n_activated))

    def encode(self, x):
        """The members' codes (posterior means for a VAE), ``(batch, m * k)``."""
        code = self.encoder(x)[..., : self.member_components]
        return code.transpose(0, 1).reshape(x.shape[0], self.n_components)

    def decode(self, z):
        """The members' mean reconstruction from codes ``(batch, m * k)``."""
        codes = z.view(z.shape[0], self.n_members, self.member_components).transpose(0, 1)
        return self.decoder(codes).mean(dim=0)

    def forward(self, x):
        h = self.encoder(x)
        if not self.variational:
            return self.decoder(h), h, None
        k = self.member_components
        mean, log_var = h[..., :k], h[..., k:].clamp(*LOG_VAR_BOUNDS)
        z = mean
        if self.training:
            z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
        return self.decoder(z), mean, log_var


class UserAutoencoder(nn.Module):
    """The adapter that gives users' own autoencoders skae's interface.

    It holds ``members`` (an ``nn.ModuleList`` of one or more copies of the
    user's module) and returns what skae's own networks return: the
    reconstruction of shape ``(members, batch, n_features)``, the code and,
    for a variational module, the log-variance.

    The protocol for a user's module: it has ``encoder`` and ``decoder``
    (modules or callables), or ``encode`` and ``decode`` methods; the
    encoder maps ``(batch, n_features)`` to a 2-D code ``(batch, k)`` and
    the decoder maps codes back to ``(batch, n_features)``.  For a
    variational loss the encoder returns a pair ``(mean, log_variance)`` of
    codes; training samples ``mean + exp(log_variance / 2) * eps`` and
    evaluation uses the mean.

    Parameters
    ----------
    members : list of nn.Module
        The user's module(s), each following the protocol.
    output_activation : {"identity", "sigmoid"}
        Applied to each decoder output (a sigmoid for ``loss="bce"``).
    variational : bool
        Whether the encoders return ``(mean, log_variance)``.
    """

    def __init__(self, members, output_activation="identity", variational=False, n_activated=None):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.n_members = len(self.members)
        self.output = output_layer(output_activation, n_activated)
        self.variational = variational
        self.member_components = None  # set by check_user_module

    @staticmethod
    def parts(module):
        """The ``(encode, decode)`` callables of a module, or a TypeError."""
        for enc, dec in (("encoder", "decoder"), ("encode", "decode")):
            encode, decode = getattr(module, enc, None), getattr(module, dec, None)
            if callable(encode) and callable(decode):
                return encode, decode
        missing = [
            name for name in ("encoder", "decoder") if not callable(getattr(module, name, None))
        ]
        raise TypeError(
            f"module {type(module).__name__} has no {' and no '.join(missing)}: skae needs "
            "`encoder` and `decoder` (modules or callables) or `encode` and `decode` methods, "
            "with forward = decoder(encoder(x))."
        )

    def _encode(self, member, x):
        encode, _ = self.parts(member)
        h = encode(x)
        if self.variational:
            mean, log_var = h
            return mean, log_var.clamp(*LOG_VAR_BOUNDS)
        return h, None

    def encode(self, x):
        """The members' codes (posterior means) side by side, ``(batch, m * k)``."""
        codes = [self._encode(member, x)[0] for member in self.members]
        return torch.cat(codes, dim=1)

    def decode(self, z):
        """The members' mean reconstruction from codes ``(batch, m * k)``."""
        k = self.member_components
        outputs = [
            self.output(self.parts(member)[1](z[:, i * k : (i + 1) * k]))
            for i, member in enumerate(self.members)
        ]
        return torch.stack(outputs).mean(dim=0)

    def forward(self, x):
        recons, codes, log_vars = [], [], []
        for member in self.members:
            mean, log_var = self._encode(member, x)
            z = mean
            if self.variational and self.training:
                z = mean + torch.randn_like(mean) * torch.exp(0.5 * log_var)
            recons.append(self.output(self.parts(member)[1](z)))
            codes.append(mean)
            log_vars.append(log_var)
        stack = torch.stack
        return stack(recons), stack(codes), stack(log_vars) if self.variational else None

    @property
    def n_components(self):
        return self.n_members * self.member_components


def build_user_members(module, module_params, n_features, n_components, n_members):
    """``n_members`` fresh modules from a user's class or instance.

    A class is instantiated with ``module_params``, plus ``n_features`` and
    ``n_components`` where its constructor takes them and they are not
    given.  An instance is deep-copied (the user's object is never
    trained); members after the first are re-initialized with the
    ``reset_parameters()`` of their layers, so that they differ.
    """
    params = dict(module_params or {})
    if isinstance(module, nn.Module):
        _check_trainable(module)
        if params:
            raise TypeError(
                "module_params only applies when module is a class; got an instance of "
                f"{type(module).__name__} and module_params={sorted(params)}."
            )
        members = [copy.deepcopy(module) for _ in range(n_members)]
        for member in members[1:]:
            for layer in member.modules():
                if callable(getattr(layer, "reset_parameters", None)):
                    layer.reset_parameters()
            same = all(
                torch.equal(a, b)
                for a, b in zip(member.parameters(), members[0].parameters(), strict=True)
            )
            if same:
                raise ValueError(
                    f"The {n_members} copies of the module instance {type(module).__name__} "
                    "would be identical: none of its layers has reset_parameters() to draw "
                    "new weights. Pass the class (module=" + type(module).__name__ + ") so "
                    "that each member is built anew, or set n_estimators=1."
                )
        return members
    if not (isinstance(module, type) and issubclass(module, nn.Module)):
        raise TypeError(
            "module must be a torch.nn.Module subclass or instance (with an encoder and a "
            f"decoder), got {module!r}."
        )
    signature = inspect.signature(module)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for name, value in (("n_features", n_features), ("n_components", n_components)):
        if name not in params and (name in signature.parameters) and value is not None:
            params[name] = value
    unknown = [k for k in params if k not in signature.parameters and not accepts_any]
    if unknown:
        raise TypeError(
            f"module {module.__name__} does not take the argument(s) {unknown}; its "
            f"constructor is {module.__name__}{signature}."
        )
    try:
        signature.bind(**params)
    except TypeError as exc:
        raise TypeError(
            f"module {module.__name__} cannot be built from module_params={params}: {exc}; "
            f"its constructor is {module.__name__}{signature}."
        ) from None
    members = [module(**params) for _ in range(n_members)]
    _check_trainable(members[0])
    return members


def _check_trainable(module):
    """A ValueError unless ``module`` has parameters, all of known size."""
    name = type(module).__name__
    parameters = list(module.parameters())
    if any(nn.parameter.is_lazy(p) for p in parameters):
        raise ValueError(
            f"module {name} has lazy layers (such as nn.LazyLinear) whose weights do not "
            "exist until a first forward pass. Give their sizes (nn.Linear(n_features, ...)); "
            "a class can take n_features and n_components in its constructor."
        )
    if not parameters:
        raise ValueError(
            f"module {name} has no parameters: there is nothing to train. Give its encoder "
            "and decoder layers with weights, such as nn.Linear."
        )


def check_user_module(adapter, n_features):
    """Check a :class:`UserAutoencoder`'s shapes on a probe batch, before training.

    Sets ``adapter.member_components``; raises a ValueError or TypeError
    naming the expected shape or the missing part.
    """
    member = adapter.members[0]
    name = type(member).__name__
    encode, decode = UserAutoencoder.parts(member)
    probe = torch.zeros(2, n_features)
    with evaluation(member), torch.no_grad():
        try:
            h = encode(probe)
        except Exception as exc:
            raise ValueError(
                f"The encoder of module {name} failed on a batch of shape (2, {n_features}) "
                f"(n_features={n_features}: one input per numeric column and per category "
                f"of a categorical column): {type(exc).__name__}: {exc}"
            ) from None
        if adapter.variational:
            if not (isinstance(h, tuple | list) and len(h) == 2):
                raise ValueError(
                    f"loss='vae' needs the encoder of module {name} to return a pair "
                    "(mean, log_variance) of codes of shape (n_rows, n_components); it "
                    f"returned {type(h).__name__}. Use another loss, or return both."
                )
            if tuple(h[0].shape) != tuple(h[1].shape):
                raise ValueError(
                    f"The encoder of module {name} returned a mean of shape "
                    f"{tuple(h[0].shape)} and a log-variance of shape {tuple(h[1].shape)}; "
                    "they must have the same shape."
                )
            h = h[0]
        if not isinstance(h, torch.Tensor) or h.dim() != 2 or h.shape[0] != 2:
            shape = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
            raise ValueError(
                f"The encoder of module {name} must return a 2-D code of shape "
                f"(n_rows, n_components); on a batch of shape (2, {n_features}) it "
                f"returned {shape}. Flatten the code, e.g. with nn.Flatten()."
            )
        try:
            out = decode(h)
        except Exception as exc:
            raise ValueError(
                f"The decoder of module {name} failed on codes of shape {tuple(h.shape)}: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n_features):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(
                f"The decoder of module {name} must return reconstructions of shape "
                f"(n_rows, n_features) = (2, {n_features}), one column per network input "
                f"(numeric column or category); it returned {shape}."
            )
        if out.dtype != probe.dtype or not h.is_floating_point():
            raise ValueError(
                f"The module {name} must compute in float32, the dtype of its inputs: its "
                f"encoder returned {h.dtype} and its decoder {out.dtype}. Build its layers "
                "in float32 (the default) and do not convert their outputs."
            )
    adapter.member_components = h.shape[1]
