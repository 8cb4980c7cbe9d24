"""The code in the docs pages runs as written."""

import re
import warnings
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def code_blocks(page):
    text = (DOCS / page).read_text()
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    return [re.sub(r"^    ", "", block, flags=re.M) for block in blocks]


def test_scaling_out_page_runs():
    pytest.importorskip("distributed")
    pytest.importorskip("dask_ml")
    blocks = code_blocks("scaling_out.rst")
    assert len(blocks) == 2
    namespace = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's cluster start-up and shutdown chatter
        for block in blocks:
            exec(compile(block, "scaling_out.rst", "exec"), namespace)
    assert namespace["search"].best_params_["loss"] in {"mse", "mae", "huber"}
    assert namespace["detector"].n_iter_ == 4
