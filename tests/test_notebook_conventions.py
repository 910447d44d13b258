"""Every notebook follows the course conventions (DESIGN.md): badge, setup cell, tier tags, clean storage."""

import re

import nbformat
import pytest

from course_utils.notebook_tools import BADGE_RE, CHECK_MARKER, INSTALL_RE, REPO, BRANCH, TIERS, badge_url, notebooks, tier_of

NOTEBOOKS = notebooks()
ids = [p.name for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_opens_with_colab_badge(path):
    nb = nbformat.read(str(path), as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert badge_url(path.name) in first.source, f"{path.name}: first cell must link {badge_url(path.name)}"
    for repo, branch, name in BADGE_RE.findall("\n".join(c.source for c in nb.cells)):
        assert (repo, branch) == (REPO, BRANCH) and name in {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_readme_links_every_notebook(path):
    readme = (path.parent.parent / "README.md").read_text(encoding="utf-8")
    assert badge_url(path.name) in readme, f"README.md's notebook table must link {path.name} ({badge_url(path.name)})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_first_code_cell_installs_in_colab_and_calls_setup(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cell"
    setup = code[0].source
    assert '"google.colab" in sys.modules' in setup and '"pip", "install"' in setup and "setup(" in setup
    assert "raise RuntimeError" in setup, "a failed install must stop the cell (IPython carries on after `!pip`)"
    assert INSTALL_RE.findall(setup) == [(REPO, BRANCH)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_every_cell_has_exactly_one_tier_tag(path):
    nb = nbformat.read(str(path), as_version=4)
    bad = [i for i, c in enumerate(nb.cells) if len(tier_of(c)) != 1]
    assert not bad, f"{path.name}: cells {bad} need exactly one of the tags {TIERS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and CHECK_MARKER not in c.source
             and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} keep outputs; store notebooks clean (course_utils.notebook_tools.clean)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_nbval_markers_sit_inside_r_cells(path):
    nb = nbformat.read(str(path), as_version=4)
    for c in nb.cells:
        lines = c.source.splitlines()
        if any(line.startswith("%%R") for line in lines[1:]):
            pytest.fail(f"{path.name}: `%%R` must be the first line of its cell (nbval markers go on line 2)")


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00")], ids=ids[1:])
def test_lesson_has_summary_and_exercises(path):
    nb = nbformat.read(str(path), as_version=4)
    headings = [line for c in nb.cells if c.cell_type == "markdown" for line in c.source.splitlines() if line.startswith("#")]
    assert any(re.search(r"Summary", h) for h in headings), f"{path.name}: add a '## … Summary' section"
    assert any(re.search(r"Exercises", h) for h in headings), f"{path.name}: add a '## … Exercises' section"
