"""Every Python block of the docs pages runs on its own.

Each block runs as a script in a fresh interpreter, in an empty directory: a
block that needs a name from another block fails, and so does one that
starts processes without the ``if __name__ == "__main__":`` guard that
scripts need (dask's workers import the script again).
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"

#: Extras a block may need; without them its test is skipped.
OPTIONAL = {"dask", "distributed", "dask_ml", "onnx", "onnxruntime", "skl2onnx"}

#: What some blocks must print.
OUTPUTS = {
    "getting_started.rst: Choose the loss": r"\{'loss': '\w+'\}",
    "scaling_out.rst: A grid search on a dask cluster": r"\{'loss': '(mse|mae|huber)'\}",
    "scaling_out.rst: Data larger than memory": r"^4 \[",  # one epoch per chunk
    "user_guide.rst: Your own network": r"^\(1797, 4\)",
    "deploying.rst: Export and score a detector Pipeline": (
        r"^scores equal: True\nlabels equal: True"
    ),
    "deploying.rst: A transformer, a classifier and inverse_transform": (
        r"^probabilities equal: True\nrows equal: True"
    ),
}


def blocks():
    """``(id, code)`` for each ``code-block:: python`` of each page."""
    found = []
    for page in sorted(DOCS.glob("*.rst")):
        lines = page.read_text().splitlines(keepends=True)
        section = ""
        for i, line in enumerate(lines):
            if i + 1 < len(lines) and re.fullmatch(r"-{3,}\n", lines[i + 1]):
                section = line.strip()
            if line.rstrip() == ".. code-block:: python":
                body = re.match(r"\n((?:    .*\n|\n)+)", "".join(lines[i + 1 :])).group(1)
                found.append((f"{page.name}: {section}", re.sub(r"^    ", "", body, flags=re.M)))
    return found


BLOCKS = blocks()


def test_every_page_with_code_is_covered():
    pages = {block_id.split(":")[0] for block_id, _ in BLOCKS}
    assert pages == {
        "deploying.rst",
        "getting_started.rst",
        "scaling_out.rst",
        "user_guide.rst",
    }
    assert len(BLOCKS) == 8
    assert set(OUTPUTS) <= {block_id for block_id, _ in BLOCKS}


@pytest.mark.parametrize("block_id, code", BLOCKS, ids=[block_id for block_id, _ in BLOCKS])
def test_docs_block_runs_alone(block_id, code, tmp_path):
    imported = set(re.findall(r"^\s*(?:from|import) (\w+)", code, flags=re.M))
    for module in sorted(imported & OPTIONAL):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module}")
    script = tmp_path / "block.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    if block_id in OUTPUTS:
        assert re.search(OUTPUTS[block_id], result.stdout, flags=re.M), result.stdout


def test_out_of_core_example_stays_in_its_memory_budget(tmp_path):
    # docs/scaling_out.rst quotes this example's peak memory; no gallery
    # build runs it (it is not a plot_ script), so run a smaller stream here.
    example = DOCS.parent / "examples" / "out_of_core.py"
    env = {"OMP_NUM_THREADS": "1", "PATH": ""}
    result = subprocess.run(
        [
            sys.executable,
            str(example),
            "--rows",
            "300000",
            "--chunk-rows",
            "50000",
            "--passes",
            "1",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "peak RSS above baseline" in result.stdout
