"""Sphinx configuration for skae's documentation."""

import os
import sys
import warnings

sys.path.insert(0, os.path.abspath(".."))

import skae  # noqa: E402

project = "skae"
author = "skae developers"
copyright = "2026, skae developers"
version = release = skae.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # A local copy of MathJax, so formulas render without a network.
    "sphinx-mathjax-offline",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {
    "members": True,
    "inherited-members": True,
    # scikit-learn's own plumbing; its docstrings link into scikit-learn's site.
    "exclude-members": "get_metadata_routing,set_output,set_fit_request,"
    "set_partial_fit_request,set_score_request",
}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
templates_path = []
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
intersphinx_mapping = {}

html_theme = "pydata_sphinx_theme"
html_title = f"skae {version}"
html_theme_options = {"navigation_with_keys": False, "show_prev_next": False}

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(demo|out_of_core)\.py",
    "download_all_examples": False,
    "reference_url": {"skae": None},
    "matplotlib_animations": False,
}

# The examples train briefly on purpose.
warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib is currently using agg")
