"""Tests for course_utils.instructor: student/solution copies, reading-path copies, badges for a fork."""

import shutil
from pathlib import Path

import nbformat
import pytest

from course_utils import instructor
from course_utils import notebook_tools as nt
from course_utils.instructor import names_defined_and_used, path_copy, rewrite_links, set_badges, student_copy

ROOT = Path(__file__).resolve().parent.parent


def lesson() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nt.cell("markdown", nt.badge_markdown("09_x.ipynb") + "\n# Title", "essentials"),
        nt.cell("code", nt.setup_source(), "essentials"),
        nt.cell("code", "import math\nradius = 2.0", "deep-dive"),
        nt.cell("code", "area = math.pi * radius ** 2", "practitioner"),
        nt.cell("markdown", "## 🟣 A derivation", "deep-dive"),
        nt.cell("code", "unused = 1", "deep-dive"),
        nt.cell("code", "assert area > 12", "essentials"),
        nt.cell("code", "answer = area * 2", "essentials", "solution"),
    ]
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i:03d}"
    return nb


def test_student_copy_replaces_solutions_keeps_tier():
    out = student_copy(lesson())
    last = out.cells[-1]
    assert last.source == instructor.PLACEHOLDER and nt.tier_of(last) == ["essentials"]
    assert "answer" not in "".join(c.source for c in out.cells)
    nbformat.validate(out)
    assert lesson().cells[-1].source == "answer = area * 2"  # the original is untouched


def test_names_defined_and_used_handles_magics():
    defined, used = names_defined_and_used("import numpy as np\n!pip install x\nx = np.zeros(y)")
    assert defined == {"np", "x"} and used == {"get_ipython", "y"}  # np is bound before it is read
    defined, used = names_defined_and_used("%%R -i frame,w -o coefs\ncoefs <- coef(lm(y ~ x, frame))")
    assert defined == {"coefs"} and used == {"frame", "w"}  # R cells pass Python names in and out


def test_path_copy_keeps_dependencies_and_drops_the_rest():
    out = path_copy(lesson(), "essentials")
    sources = [c.source for c in out.cells]
    assert "import math\nradius = 2.0" in sources and "area = math.pi * radius ** 2" in sources
    assert "unused = 1" not in sources and "## 🟣 A derivation" not in sources
    assert len(path_copy(lesson(), "deep-dive").cells) == len(lesson().cells)
    with pytest.raises(ValueError, match="not one of"):
        path_copy(lesson(), "expert")


def test_path_copy_of_a_notebook_executes(tmp_path):
    from nbclient import NotebookClient

    nb = path_copy(lesson(), "essentials")
    nb.cells[1].source = "pass"  # skip setup(): this test is about the dependency analysis
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    assert nb.cells[-1].cell_type == "code"


def test_write_commands_produce_valid_notebooks_for_the_course(tmp_path):
    n = len(nt.notebooks())
    assert len(instructor.write_student(nt.NOTEBOOK_DIR, tmp_path / "student")) == n
    assert len(instructor.write_student(nt.NOTEBOOK_DIR, tmp_path / "solutions", solutions=True)) == n
    assert len(instructor.write_paths(nt.NOTEBOOK_DIR, tmp_path / "paths")) == 3 * n
    for path in (tmp_path).rglob("*.ipynb"):
        nbformat.validate(nbformat.read(str(path), as_version=4))
    solutions = sum(
        "solution" in c.metadata.get("tags", [])
        for p in nt.notebooks()
        for c in nbformat.read(str(p), 4).cells
    )
    placeholders = sum(
        c.source == instructor.PLACEHOLDER
        for p in (tmp_path / "student").glob("*.ipynb")
        for c in nbformat.read(str(p), 4).cells
    )
    assert placeholders == solutions


def test_rewrite_links_points_badges_and_installs_at_the_fork():
    text = nt.badge_markdown("03_x.ipynb") + "\n" + nt.setup_source()
    new = rewrite_links(text, "uni-x/xai-workshop", "spring-2027")
    assert nt.badge_url("03_x.ipynb", "uni-x/xai-workshop", "spring-2027") in new
    assert "git+https://github.com/uni-x/xai-workshop@spring-2027" in new and nt.REPO not in new


def test_set_badges_rewrites_a_copy_of_the_repository(tmp_path):
    for part in ("notebooks", "course_utils"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    changed = set_badges("uni-x/xai-workshop", "spring-2027", tmp_path)
    assert (
        tmp_path / "README.md" in changed
        and tmp_path / "course_utils" / "course" / "notebook_tools.py" in changed
    )
    config = (tmp_path / "course_utils" / "course" / "notebook_tools.py").read_text()
    assert 'REPO = "uni-x/xai-workshop"' in config and 'BRANCH = "spring-2027"' in config
    for path in nt.notebooks(tmp_path / "notebooks"):
        assert nt.badge_url(path.name, "uni-x/xai-workshop", "spring-2027") in path.read_text()


@pytest.mark.parametrize(
    "repo, branch, match", [("no-slash", "main", "OWNER/NAME"), ("a/b", "bad branch", "branch")]
)
def test_set_badges_bad_arguments(repo, branch, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        set_badges(repo, branch, tmp_path)
