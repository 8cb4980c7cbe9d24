"""Collection rules for the whole repository (pyproject's testpaths: tests, skae).

``skae/onnx.py`` needs the ``onnx`` extra (``pip install skae[onnx]``):
without it, its doctests are not collected, as tests/test_onnx.py is skipped.
"""

import importlib.util

ONNX_EXTRA = ("onnx", "onnxruntime", "skl2onnx")

collect_ignore = []
if not all(importlib.util.find_spec(name) for name in ONNX_EXTRA):
    collect_ignore.append("skae/onnx.py")
