"""Every Python block of the README runs on its own, quietly.

Each block runs as a script in a fresh interpreter, in an empty directory, as
a reader who pastes just that block would run it: a block that needs a name
from another block fails.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks():
    """``(section, code)`` for each Python block, under the heading it follows."""
    found, section = [], ""
    text = README.read_text()
    for match in re.finditer(r"^## ([^\n]+)$|^```python\n(.*?)^```$", text, flags=re.M | re.S):
        if match.group(1):
            section = match.group(1).strip()
        else:
            found.append((section, match.group(2)))
    return found


BLOCKS = blocks()


def run_script(code, directory):
    script = directory / "block.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)], cwd=directory, capture_output=True, text=True, timeout=600
    )


def test_readme_has_its_examples():
    assert [section for section, _ in BLOCKS] == [
        "Dimensionality reduction",
        "Outlier detection",
        "Missing values",
        "Real tables: categories and holes",
        "Choosing the loss with a grid search",
        "Saving models",
    ]


@pytest.mark.parametrize("section, code", BLOCKS, ids=[section for section, _ in BLOCKS])
def test_readme_block_runs_alone(section, code, tmp_path):
    result = run_script(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip(), "every example shows its result"
    # The README's own examples are quiet: no warning of any kind, from the
    # block or from the grid search's worker processes.
    assert "Warning" not in result.stderr, result.stderr
    if section == "Saving models":
        assert result.stdout.split() == ["True"]  # the reloaded model scores the same
        assert (tmp_path / "weights.pt").exists()
    if section == "Outlier detection":
        assert "ROC-AUC" in result.stdout and "flagged" in result.stdout
    if section == "Real tables: categories and holes":
        assert "categorical: ['sex'] ['female', 'male']" in result.stdout
        assert "scores finite: True" in result.stdout
