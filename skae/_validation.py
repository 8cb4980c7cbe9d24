"""Shared checks and error wording: parameter constraints, devices, warnings.

Nothing here holds estimator state.
"""

import sys
import warnings

import torch
from sklearn.utils._param_validation import Interval

__all__ = ["Count", "check_device", "supported_devices", "warn_at_caller"]


class Count(Interval):
    """An integer interval that rejects booleans.

    ``True`` is an ``Integral`` in Python, so scikit-learn's ``Interval``
    accepts it as a size; torch then fails with an unrelated message.
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)

    def __str__(self):
        return f"{super().__str__()} (not a bool)"


def supported_devices():
    """Devices this machine can train and score on, as strings."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
        devices += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def check_device(value):
    """``value`` as a ``torch.device`` this machine supports, or a ValueError."""
    supported = supported_devices()
    hint = f"this machine supports {', '.join(repr(d) for d in supported)}"
    try:
        device = torch.device(value)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(f"device={value!r} is not a torch device; {hint}.") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={value!r} was requested but CUDA is not available on this machine; {hint}."
        )
    if device.type == "cuda" and device.index is not None:
        if device.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={value!r}: this machine has {torch.cuda.device_count()} CUDA "
                f"device(s); {hint}."
            )
    elif device.type == "cpu" and device.index not in (None, 0):
        raise ValueError(f"device={value!r}: torch has a single CPU device; use 'cpu'.")
    elif device.type not in ("cpu", "cuda") and str(device) not in supported:
        raise ValueError(f"device={value!r} is not available to skae here; {hint}.")
    return device


# Frames of these modules are skipped when a warning looks for its caller:
# skae itself and the scikit-learn wrappers around public methods.
_WRAPPERS = ("sklearn.base", "sklearn.utils._set_output", "sklearn.utils._param_validation")


def _is_internal(frame):
    name = frame.f_globals.get("__name__", "")
    return name == "skae" or name.startswith("skae.") or name in _WRAPPERS


def warn_at_caller(message, category):
    """Warn with the location of the first frame outside skae.

    The warning then names the line of the user's code (or of the library,
    such as ``GridSearchCV``) that called skae, and Python's default filter
    shows it once per calling line instead of once per fit.
    """
    frame, level = sys._getframe(1), 2
    while frame is not None and _is_internal(frame):
        frame, level = frame.f_back, level + 1
    if frame is None:  # called from nowhere outside skae
        level = 2
    warnings.warn(message, category, stacklevel=level)
