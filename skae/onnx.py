"""Export fitted skae estimators to ONNX, alone or inside a Pipeline.

``import skae.onnx`` registers converters for
:class:`~skae.AutoencoderTransformer` and
:class:`~skae.AutoencoderOutlierDetector` with ``skl2onnx`` (its
custom-converter API: a parser, a shape calculator and a converter per
class), so that ``skl2onnx.to_onnx`` converts them, and Pipelines that hold
them next to scikit-learn's own steps, into one ONNX graph.  Importing
``skae`` alone never imports ``onnx``, ``onnxruntime`` or ``skl2onnx``
(install them with ``pip install skae[onnx]``).

The graph repeats skae's scoring path step by step, in the same precision:

- scaling, ``x * (1 / scale_) - center_ / scale_`` in the input's dtype,
  then float32; missing entries (NaN) become the column's training mean in
  scaled units; the result is clipped to +-``INPUT_BOUND``;
- the network in float32: skae's built-in networks are written as ONNX
  nodes from their weights (one ``Gemm`` per layer and member, without the
  hidden units a member switches off, and the activations; dropout is off
  and a VAE uses its posterior mean); a user's own module is traced with
  ``torch.onnx.export``, checked against torch, and its graph inlined;
- the score: per-feature squared errors in scaled units, times the float32
  weights of ``_error_weights()``, averaged over members and observed
  features; ``scores`` is ``decision_function = score_samples - offset_``
  and ``label`` is +1 where it is >= 0, else -1, as skl2onnx outputs
  ``IsolationForest``.

What the export cannot follow raises a ``ValueError`` that names it.
"""

import copy
import io
import warnings

import numpy as np
import onnx
import torch
from onnx import TensorProto, numpy_helper
from skl2onnx import convert_sklearn, update_registered_converter
from skl2onnx.common.data_types import (
    DoubleTensorType,
    FloatTensorType,
    Int64TensorType,
)
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._base import ERROR_BOUND
from ._columns import INPUT_BOUND
from ._networks import Autoencoder, EnsembleAutoencoder
from ._outlier import AutoencoderOutlierDetector
from ._transformer import AutoencoderTransformer

__all__ = ["to_onnx_inverse_transform"]

# Opsets the graph needs (ReduceSum with axes as an input) and the newest
# that torch's TorchScript exporter writes (users' own modules are exported
# at min(target, this) and converted up to the target).
MIN_OPSET = 13
TORCH_MAX_OPSET = 20

# What skae.onnx knows of a fitted column map; a map with more state
# (categorical columns, other encodings) is not exported silently wrong.
KNOWN_COLUMN_STATE = {"center", "scale", "error_scale", "fill"}

_ACTIVATIONS = {nn.ReLU: "Relu", nn.Tanh: "Tanh", nn.Sigmoid: "Sigmoid"}

# torch's SELU constants (the ONNX defaults are the same numbers in float32).
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946

_PROTO_TYPES = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE}


class _Unsupported(Exception):
    """A layer the direct writer does not know: trace the module instead."""


class _Graph:
    """Adds named nodes and constants of one operator to skl2onnx's container."""

    def __init__(self, scope, container, prefix):
        self.scope = scope
        self.container = container
        self.prefix = prefix
        self.opset = container.target_opset

    def name(self, hint):
        return self.scope.get_unique_variable_name(f"{self.prefix}_{hint}")

    def const(self, value, dtype=np.float32):
        value = np.asarray(value, dtype=dtype)
        name = self.name("c")
        proto_type = _PROTO_TYPES.get(value.dtype, TensorProto.INT64)
        tensor = numpy_helper.from_array(value)
        self.container.add_initializer(name, proto_type, list(value.shape), tensor)
        return name

    def op(self, op_type, *inputs, out=None, **attrs):
        out = out or self.name(op_type.lower())
        self.container.add_node(
            op_type,
            list(inputs),
            [out],
            op_domain="",
            name=self.scope.get_unique_operator_name(f"{self.prefix}_{op_type}"),
            **attrs,
        )
        return out

    def reduce_sum(self, x, axis, keepdims):
        """``ReduceSum`` over one axis (opset >= 13: the axes are an input)."""
        return self.op("ReduceSum", x, self.const([axis], np.int64), keepdims=keepdims)

    def cast(self, x, proto_type, out=None):
        return self.op("Cast", x, to=proto_type, out=out)


# ----------------------------------------------------------------- network
# skae's built-in networks are written as one chain of 2-D steps per member:
# ("gemm", W, b) with W of shape (n_in, n_out), or ("act", layer).  An
# ensemble's stacked weights are split by member, and the hidden units a
# member switches off (its _MemberUnits mask) are left out of its matrices:
# they add exactly 0 to the next layer in skae, and nothing here.
def _member_plans(seq, n_members):
    plans = [[] for _ in range(n_members)]
    keep = [None] * n_members  # units of the previous layer a member uses
    width = None  # outputs of the previous linear layer
    for layer in seq:
        name = type(layer).__name__
        if isinstance(layer, nn.Linear) and n_members == 1:
            weight = layer.weight.detach().cpu().numpy().T
            plans[0].append(["gemm", weight, layer.bias.detach().cpu().numpy()])
            width = weight.shape[1]
        elif name == "_MemberLinear" and layer.weight.shape[0] == n_members:
            weight = layer.weight.detach().cpu().numpy()
            bias = layer.bias.detach().cpu().numpy()
            for k, plan in enumerate(plans):
                rows = slice(None) if keep[k] is None else keep[k]
                plan.append(["gemm", weight[k][rows], bias[k, 0]])
            keep = [None] * n_members
            width = weight.shape[2]
        elif (
            name == "_MemberUnits"
            and _masks(layer, n_members, width)
            and keep == [None] * n_members
        ):
            mask = layer.mask.detach().cpu().numpy().reshape(n_members, width)
            for k, plan in enumerate(plans):
                keep[k] = np.flatnonzero(mask[k])
                # The member's last linear layer: only activations follow it.
                gemm = next(step for step in reversed(plan) if step[0] == "gemm")
                gemm[1], gemm[2] = gemm[1][:, keep[k]], gemm[2][keep[k]]
        elif isinstance(layer, nn.Identity) or _passes_through(layer, n_members, width):
            pass  # dropout: nothing at inference
        elif _known_activation(layer):
            for plan in plans:
                plan.append(["act", layer])
        else:
            raise _Unsupported(name)
    if any(k is not None for k in keep):
        raise _Unsupported("_MemberUnits")
    return plans


def _masks(layer, n_members, width):
    """Whether ``layer.mask`` is one 0/1 row of the previous layer's units per member."""
    mask = getattr(layer, "mask", None)
    return (
        width is not None
        and isinstance(mask, torch.Tensor)
        and mask.numel() == n_members * width
        and bool(((mask == 0) | (mask == 1)).all())
    )


def _passes_through(layer, n_members, width):
    """Whether a layer without parameters returns its input unchanged in
    evaluation mode (dropout layers, whatever their class)."""
    if width is None or layer.training or any(True for _ in layer.parameters()):
        return False
    probe = torch.randn(n_members, 3, width, generator=torch.Generator().manual_seed(0))
    try:
        with torch.inference_mode():
            out = layer(probe)
    except Exception:  # a layer that cannot take the probe is not a pass-through
        return False
    return isinstance(out, torch.Tensor) and out.shape == probe.shape and torch.equal(out, probe)


def _known_activation(layer):
    kind = type(layer)
    return (
        kind in _ACTIVATIONS
        or kind in (nn.ELU, nn.LeakyReLU, nn.SELU)
        or (kind is nn.GELU and layer.approximate == "none")
    )


def _activation(g, layer, h):
    kind = type(layer)
    if kind in _ACTIVATIONS:
        return g.op(_ACTIVATIONS[kind], h)
    if kind is nn.ELU:
        return g.op("Elu", h, alpha=float(layer.alpha))
    if kind is nn.LeakyReLU:
        return g.op("LeakyRelu", h, alpha=float(layer.negative_slope))
    if kind is nn.SELU:
        return g.op("Selu", h, alpha=_SELU_ALPHA, gamma=_SELU_SCALE)
    # nn.GELU(approximate="none"), as torch computes it: x * 0.5 * (1 + erf(x / sqrt(2)))
    erf = g.op("Erf", g.op("Mul", h, g.const(np.sqrt(0.5))))
    return g.op("Mul", g.op("Mul", h, g.const(0.5)), g.op("Add", erf, g.const(1.0)))


def _run_plan(g, plan, h):
    for kind, *args in plan:
        if kind == "gemm":
            h = g.op("Gemm", h, g.const(args[0]), g.const(args[1]))
        else:
            h = _activation(g, args[0], h)
    return h


class _Builtin:
    """A built-in network as per-member plans; _Unsupported if a layer is unknown."""

    def __init__(self, module):
        ensemble = isinstance(module, EnsembleAutoencoder)
        self.n_members = module.n_members if ensemble else 1
        self.k = module.member_components if ensemble else module.n_components
        self.ensemble = ensemble
        self.encoders = _member_plans(module.encoder, self.n_members)
        self.decoders = _member_plans(module.decoder, self.n_members)
        if module.variational:  # the code is the posterior mean: its first k outputs
            for plan in self.encoders:
                if plan[-1][0] != "gemm":
                    raise _Unsupported("variational encoder")
                plan[-1][1], plan[-1][2] = plan[-1][1][:, : self.k], plan[-1][2][: self.k]

    def codes(self, g, z):
        return [_run_plan(g, plan, z) for plan in self.encoders]

    def reconstructions(self, g, codes):
        return [_run_plan(g, plan, code) for plan, code in zip(self.decoders, codes)]


def _network(g, module, x, what, n_in):
    """``what`` of the fitted module on float32 network inputs ``x``.

    Returns ``(outputs, ndim, stacked)``.  ``"forward"``: ``outputs``
    holds each member's reconstruction ``(rows, features)``, or, when
    ``stacked`` (a traced module), one tensor ``(members, rows, features)``;
    ``ndim`` is the number of dimensions of skae's reconstructions (3 for
    an ensemble).
    ``"encode"``: one tensor of codes ``(rows, n_components)``;
    ``"decode"``: one tensor of (mean) reconstructions from codes.  skae's
    own networks are written from their weights; anything else, or a
    built-in network with a layer the writer does not know, is traced with
    ``torch.onnx.export``.
    """
    if type(module) in (Autoencoder, EnsembleAutoencoder):
        try:
            # Nothing is written before every layer is known.
            net = _Builtin(module)
        except _Unsupported:
            pass
        else:
            return (*_builtin_network(g, net, x, what), False)
    name, ndim = _traced_network(g, module, x, what, n_in)
    return [name], ndim, ndim == 3


def _builtin_network(g, net, x, what):
    m, k = net.n_members, net.k
    ndim = 3 if net.ensemble else 2
    if what == "decode":
        if m == 1:
            codes = [x]
        else:  # member i's code is columns i * k ... (i + 1) * k
            codes = [
                g.op("Slice", x, g.const([i * k], np.int64), g.const([(i + 1) * k], np.int64),
                     g.const([1], np.int64))
                for i in range(m)
            ]  # fmt: skip
        recons = net.reconstructions(g, codes)
        return [recons[0] if m == 1 else g.op("Mean", *recons)], 2
    codes = net.codes(g, x)
    if what == "encode":
        return [codes[0] if m == 1 else g.op("Concat", *codes, axis=1)], 2
    return net.reconstructions(g, codes), ndim


class _Method(nn.Module):
    """One method of a skae module as ``forward``, for ``torch.onnx.export``."""

    def __init__(self, module, what):
        super().__init__()
        self.module = module
        self.what = what

    def forward(self, x):
        if self.what == "forward":
            return self.module(x)[0]
        return getattr(self.module, self.what)(x)


def _traced_network(g, module, x, what, n_in):
    module = copy.deepcopy(module).cpu().eval()
    wrapper = _Method(module, what).eval()
    probe = torch.randn(3, n_in, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ndim = wrapper(probe).dim()
    target = g.opset
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript exporter warns that it is deprecated; it needs
            # no onnxscript, and it is what traces a module here.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                wrapper,
                (probe,),
                buffer,
                input_names=["x"],
                output_names=["y"],
                dynamic_axes={"x": {0: "rows"}, "y": {ndim - 2: "rows"}},
                opset_version=min(target, TORCH_MAX_OPSET),
                do_constant_folding=True,
                dynamo=False,
            )
        model = onnx.load_from_string(buffer.getvalue())
        if target > TORCH_MAX_OPSET:
            model = onnx.version_converter.convert_version(model, target)
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(
            f"Cannot export the network {_module_name(module)} to ONNX: "
            f"torch.onnx.export failed on its {what!r} step with "
            f"{type(exc).__name__}: {reason}. skae writes its built-in networks itself; "
            "a module of your own must be traceable by torch.onnx.export(..., "
            "dynamo=False) for any number of rows, with operators ONNX has "
            f"(target_opset <= {TORCH_MAX_OPSET} avoids converting its graph between "
            "opsets)."
        ) from exc
    _check_traced(model, wrapper, n_in, what)
    return _inline(g, model, x, module), ndim


def _check_traced(model, wrapper, n_in, what):
    """Run the traced graph on other rows, in another number, against torch.

    Tracing records one run: Python branches on the data, numpy calls and
    fixed row counts are baked in silently.  Skipped without onnxruntime.
    """
    try:
        import onnxruntime
    except ImportError:  # pragma: no cover - the extra installs it
        return
    probe = torch.randn(7, n_in, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        expected = wrapper(probe).numpy()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    try:
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        got = session.run(None, {"x": probe.numpy()})[0]
    except Exception as exc:  # any failure means "not exportable"
        got, reason = None, f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0]}"
    else:
        reason = f"shape {got.shape} where torch gives {expected.shape}"
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    if (
        got is None
        or got.shape != expected.shape
        or not np.allclose(got, expected, rtol=1e-4, atol=1e-5 * scale)
    ):
        if got is not None and got.shape == expected.shape:
            reason = f"values up to {np.max(np.abs(got - expected)):.3g} away from torch's"
        raise ValueError(
            f"Cannot export the network {_module_name(wrapper.module)} to ONNX: the graph "
            f"torch.onnx.export traced for its {what!r} step does not reproduce it on a "
            f"batch of 7 rows ({reason}). Tracing records one run: branches on the data, "
            "numpy calls and fixed numbers of rows in forward are not exportable."
        )


def _module_name(module):
    members = getattr(module, "members", None)
    if members is not None and len(members):
        return f"{type(members[0]).__name__} (module=)"
    return type(module).__name__


def _inline(g, model, x, module):
    """Copy an exported graph into the container; return its output's name."""
    graph = model.graph
    initializers = {init.name for init in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in initializers]
    rename = {inputs[0]: x}
    for init in graph.initializer:
        rename[init.name] = g.name("w")
        if not init.HasField("raw_data"):
            init = numpy_helper.from_array(numpy_helper.to_array(init), init.name)
        g.container.add_initializer(rename[init.name], init.data_type, list(init.dims), init)
    for node in graph.node:
        attrs = {}
        for attr in node.attribute:
            if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
                raise ValueError(
                    f"Cannot export the network {_module_name(module)} to ONNX: its graph "
                    f"has control flow ({node.op_type}), which skae.onnx does not inline."
                )
            attrs[attr.name] = onnx.helper.get_attribute_value(attr)
        ins = [rename[name] if name else "" for name in node.input]
        outs = []
        for name in node.output:
            rename[name] = g.name("t") if name else ""
            outs.append(rename[name])
        g.container.add_node(
            node.op_type,
            ins,
            outs,
            op_domain=node.domain,
            name=g.scope.get_unique_operator_name(f"{g.prefix}_{node.op_type}"),
            **attrs,
        )
    return rename[graph.output[0].name]


# ----------------------------------------------------------------- scoring
def _check_exportable(est):
    check_is_fitted(est)
    columns = est._columns_
    if columns.categories is not None:
        names = getattr(est, "feature_names_in_", None)
        which = columns.categories.columns
        shown = [str(names[j]) if names is not None else int(j) for j in which]
        raise ValueError(
            f"Cannot export this {type(est).__name__} to ONNX: it was fitted with "
            f"categorical columns {shown}, whose categories skae.onnx cannot encode. "
            "Fit it behind a OneHotEncoder in a Pipeline (ColumnTransformer with "
            "OneHotEncoder for those columns), which exports, or pass "
            "categorical_features=None on numeric data."
        )
    unknown = set(vars(columns)) - KNOWN_COLUMN_STATE
    if unknown:
        raise ValueError(
            f"Cannot export this {type(est).__name__} to ONNX: its column map holds "
            f"{sorted(unknown)}, which skae.onnx does not support yet."
        )


def _dtype(variable):
    if isinstance(variable.type, DoubleTensorType):
        return np.dtype(np.float64)
    if isinstance(variable.type, FloatTensorType):
        return np.dtype(np.float32)
    raise TypeError(
        f"skae's ONNX converters take a float or double tensor, got {variable.type!r} "
        f"for input {variable.onnx_name!r}; cast the input to float32."
    )


def _network_inputs(g, est, x, dtype):
    """``(z, missing)``: clipped float32 network inputs and the NaN mask."""
    columns = est._columns_
    scaled = x
    if columns.center.any() or not np.all(columns.scale == 1.0):
        # skae: torch.addcmul(shift, x, inverse) in the input's dtype
        inverse, shift = 1.0 / columns.scale, -columns.center / columns.scale
        scaled = g.op("Add", g.op("Mul", x, g.const(inverse, dtype)), g.const(shift, dtype))
    if dtype != np.float32:
        scaled = g.cast(scaled, TensorProto.FLOAT)
    missing = g.op("IsNaN", x)
    scaled = g.op("Where", missing, g.const(columns.fill), scaled)
    bound = g.const(INPUT_BOUND)
    return g.op("Clip", scaled, g.op("Neg", bound), bound), missing


def _errors(g, est, x, dtype):
    """Each row's reconstruction error, ``(rows, 1)`` in the input's dtype,
    as ``BaseAutoencoder._reconstruction_errors`` computes it."""
    z, missing = _network_inputs(g, est, x, dtype)
    module = est._scoring_module()
    recons, ndim, stacked = _network(g, module, z, "forward", est.n_features_in_)
    weight = np.asarray(est._error_weights(), dtype=np.float32)
    n_features = weight.shape[-1]
    zero = g.const(0.0)

    def squares(recon):  # squared differences, 0 where x is missing
        diff = g.op("Sub", recon, z)
        return g.op("Where", missing, zero, g.op("Mul", diff, diff))

    if ndim == 2:  # skae: sq_diff @ (weight / n_features)
        average = (weight / np.float32(n_features)).reshape(-1, 1)
        errors = g.op("MatMul", squares(recons[0]), g.const(average))
    else:  # skae: bmm(sq_diff, weight^T / (members * n_features)).sum(dim=0)
        members = getattr(module, "n_members", len(recons))
        weight = np.broadcast_to(weight.reshape(-1, n_features), (members, n_features))
        average = (weight / np.float32(members * n_features))[:, :, None]
        if stacked:  # one (members, rows, features) tensor
            per_member = g.op("MatMul", squares(recons[0]), g.const(average))
            errors = g.reduce_sum(per_member, 0, keepdims=0)
        else:  # one reconstruction per member
            parts = [g.op("MatMul", squares(r), g.const(a)) for r, a in zip(recons, average)]
            errors = parts[0] if members == 1 else g.op("Sum", *parts)
    # Rows with holes: the mean over their observed entries.
    observed = g.cast(g.op("Not", missing), TensorProto.FLOAT)
    count = g.reduce_sum(observed, 1, keepdims=1)
    errors = g.op("Mul", errors, g.op("Div", g.const(float(n_features)), count))
    if dtype != np.float32:
        errors = g.cast(errors, TensorProto.DOUBLE)
    # skae's _bounded: errors that overflowed (inf, NaN) are ERROR_BOUND.
    overflow = g.op("Or", g.op("IsNaN", errors), g.op("IsInf", errors))
    return g.op("Where", overflow, g.const(ERROR_BOUND, dtype), errors)


def _prepare(scope, operator, container):
    est = operator.raw_operator
    _check_exportable(est)
    if container.target_opset < MIN_OPSET:
        raise ValueError(
            f"skae's ONNX converters need target_opset >= {MIN_OPSET}, got "
            f"{container.target_opset}."
        )
    x = operator.inputs[0].full_name
    dtype = _dtype(operator.inputs[0])
    return est, _Graph(scope, container, type(est).__name__), x, dtype


def _convert_detector(scope, operator, container):
    est, g, x, dtype = _prepare(scope, operator, container)
    outputs = operator.outputs
    score_samples = outputs[2].full_name if len(outputs) > 2 else None
    scores = g.op("Neg", _errors(g, est, x, dtype), out=score_samples)
    offset = g.const(est.offset_, dtype)
    decision = g.op("Sub", scores, offset, out=outputs[1].full_name)
    inlier = g.op("GreaterOrEqual", decision, g.const(0.0, dtype))
    g.op(
        "Where",
        inlier,
        g.const([1], np.int64),
        g.const([-1], np.int64),
        out=outputs[0].full_name,
    )


def _convert_transformer(scope, operator, container):
    est, g, x, dtype = _prepare(scope, operator, container)
    z, _ = _network_inputs(g, est, x, dtype)
    (code,), *_ = _network(g, est._scoring_module(), z, "encode", est.n_features_in_)
    out = operator.outputs[0].full_name
    if dtype == np.float32:
        g.op("Identity", code, out=out)
    else:
        g.cast(code, TensorProto.DOUBLE, out=out)


def _parse_detector(scope, model, inputs, custom_parsers=None):
    """Outputs as skl2onnx names ``IsolationForest``'s: ``label``,
    ``scores`` (decision_function) and, with option ``score_samples``, a
    third output ``score_samples``."""
    operator = scope.declare_local_operator(_DETECTOR_ALIAS, model)
    operator.inputs = inputs
    tensor = type(inputs[0].type)
    operator.outputs.append(scope.declare_local_variable("label", Int64TensorType()))
    operator.outputs.append(scope.declare_local_variable("scores", tensor()))
    if scope.get_options(model, dict(score_samples=False))["score_samples"]:
        operator.outputs.append(scope.declare_local_variable("score_samples", tensor()))
    return operator.outputs


def _detector_shape(operator):
    n_rows = operator.inputs[0].get_first_dimension()
    tensor = type(operator.inputs[0].type)
    _dtype(operator.inputs[0])
    operator.outputs[0].type = Int64TensorType([n_rows, 1])
    for output in operator.outputs[1:]:
        output.type = tensor([n_rows, 1])


def _transformer_shape(operator):
    est = operator.raw_operator
    _dtype(operator.inputs[0])
    check_is_fitted(est)
    n_rows = operator.inputs[0].get_first_dimension()
    tensor = type(operator.inputs[0].type)
    operator.outputs[0].type = tensor([n_rows, est.net_.module_.n_components])


# -------------------------------------------------------- inverse_transform
class _InverseTransform:
    """Stands for ``est.inverse_transform`` in ``convert_sklearn``."""

    def __init__(self, estimator):
        self.estimator = estimator


def _parse_inverse(scope, model, inputs, custom_parsers=None):
    operator = scope.declare_local_operator(_INVERSE_ALIAS, model)
    operator.inputs = inputs
    tensor = type(inputs[0].type)
    operator.outputs.append(scope.declare_local_variable("reconstruction", tensor()))
    return operator.outputs


def _inverse_shape(operator):
    est = operator.raw_operator.estimator
    _dtype(operator.inputs[0])
    n_rows = operator.inputs[0].get_first_dimension()
    tensor = type(operator.inputs[0].type)
    operator.outputs[0].type = tensor([n_rows, est.n_features_in_])


def _convert_inverse(scope, operator, container):
    est = operator.raw_operator.estimator
    _check_exportable(est)
    g = _Graph(scope, container, "inverse_transform")
    x = operator.inputs[0].full_name
    dtype = _dtype(operator.inputs[0])
    z = x if dtype == np.float32 else g.cast(x, TensorProto.FLOAT)
    bound = g.const(INPUT_BOUND)
    z = g.op("Clip", z, g.op("Neg", bound), bound)
    module = est._scoring_module()
    (recon,), *_ = _network(g, module, z, "decode", module.n_components)
    if dtype != np.float32:
        recon = g.cast(recon, TensorProto.DOUBLE)
    columns = est._columns_
    scaled = g.op("Mul", recon, g.const(columns.scale, dtype))
    g.op("Add", scaled, g.const(columns.center, dtype), out=operator.outputs[0].full_name)


def to_onnx_inverse_transform(estimator, dtype=np.float32, target_opset=None):
    """Export ``estimator.inverse_transform`` (codes to rows) as an ONNX model.

    Parameters
    ----------
    estimator : AutoencoderTransformer or AutoencoderOutlierDetector
        A fitted estimator.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Type of the model's input ``codes`` and output ``reconstruction``.
        The network computes in float32 either way, as skae does; with
        float64 the codes are rounded to float32 and the reconstructions
        are mapped back to the original units in float64, exactly as
        ``inverse_transform`` does.
    target_opset : int or dict, default=None
        As for ``skl2onnx.to_onnx``; None is skl2onnx's default.

    Returns
    -------
    onnx.ModelProto
        A model with input ``codes`` of shape ``(rows, n_components)`` and
        output ``reconstruction`` of shape ``(rows, n_features_in_)``.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from skae import AutoencoderTransformer
    >>> from skae.onnx import to_onnx_inverse_transform
    >>> X = np.random.RandomState(0).normal(size=(100, 4)).astype(np.float32)
    >>> ae = AutoencoderTransformer(max_iter=5, random_state=0).fit(X)
    >>> model = to_onnx_inverse_transform(ae)
    >>> session = ort.InferenceSession(model.SerializeToString())
    >>> codes = ae.transform(X[:3]).astype(np.float32)
    >>> session.run(None, {"codes": codes})[0].shape
    (3, 4)
    """
    check_is_fitted(estimator)
    dtype = np.dtype(dtype)
    if dtype not in _PROTO_TYPES:
        raise ValueError(f"dtype must be numpy.float32 or numpy.float64, got {dtype}.")
    tensor = FloatTensorType if dtype == np.float32 else DoubleTensorType
    k = estimator.net_.module_.n_components
    return convert_sklearn(
        _InverseTransform(estimator),
        initial_types=[("codes", tensor([None, k]))],
        target_opset=target_opset,
    )


_TRANSFORMER_ALIAS = "SkaeAutoencoderTransformer"
_DETECTOR_ALIAS = "SkaeAutoencoderOutlierDetector"
_INVERSE_ALIAS = "SkaeInverseTransform"

update_registered_converter(
    AutoencoderTransformer, _TRANSFORMER_ALIAS, _transformer_shape, _convert_transformer
)
update_registered_converter(
    AutoencoderOutlierDetector,
    _DETECTOR_ALIAS,
    _detector_shape,
    _convert_detector,
    parser=_parse_detector,
    options={"score_samples": [True, False]},
)
update_registered_converter(
    _InverseTransform, _INVERSE_ALIAS, _inverse_shape, _convert_inverse, parser=_parse_inverse
)
