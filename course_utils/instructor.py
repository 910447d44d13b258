"""Tools for instructors: student and solution copies, one copy per reading path, badges for a fork.

Command line: ``python -m course_utils student|solutions|paths|badges``; ``make course`` builds the copies too.
Nothing here is edited by hand in the generated copies: regenerate them instead.
"""

from __future__ import annotations

import ast
import copy
import re
from pathlib import Path

import nbformat

from . import notebook_tools as nt

SOLUTION_TAG = "solution"
PLACEHOLDER = "# ✏️ Exercise: write your solution here (the solution is in the instructor's copy).\n"
#: each path keeps its own cells and those of the lighter paths
PATH_TIERS = {"essentials": ("essentials",), "practitioner": ("essentials", "practitioner"), "deep-dive": nt.TIERS}


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def _write(nb: nbformat.NotebookNode, path: Path) -> Path:
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def student_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose ``solution`` cells are replaced by an empty exercise cell of the same tier."""
    out = copy.deepcopy(nb)
    for i, c in enumerate(out.cells):
        if SOLUTION_TAG in c.metadata.get("tags", []):
            tier = nt.tier_of(c)[0]
            placeholder = nbformat.v4.new_code_cell(PLACEHOLDER)
            placeholder.metadata["tags"] = [tier, "exercise"]
            placeholder["id"] = c.get("id", f"cell-{i:03d}")
            out.cells[i] = placeholder
    return out


def write_student(folder: str | Path, out: str | Path, *, solutions: bool = False) -> list[Path]:
    """Write every notebook of ``folder`` to ``out``: student copies, or (``solutions=True``) complete ones."""
    return [_write(_read(p) if solutions else student_copy(_read(p)), Path(out) / p.name) for p in nt.notebooks(folder)]


# ------------------------------------------------------------------------------------------ reading paths
def _python_source(source: str) -> str:
    """Cell source as plain Python (IPython magics and ``!`` commands translated), for name analysis."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _r_magic_names(source: str) -> tuple[set[str], set[str]]:
    """Python names an ``%%R`` cell exports with ``-o`` and imports with ``-i`` (comma-separated lists)."""
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    if not first.startswith("%%R"):
        return set(), set()
    args = first.split()[1:]
    found: dict[str, set[str]] = {"-o": set(), "-i": set()}
    for flag, value in zip(args, args[1:]):
        if flag in found:
            found[flag].update(v for v in value.split(",") if v)
    return found["-o"], found["-i"]


def names_defined_and_used(source: str) -> tuple[set[str], set[str]]:
    """Names a code cell binds (assignments, imports, defs, ``%%R -o``) and reads (incl. ``%%R -i``).

    Unparsable cells count as binding and reading nothing.
    """
    r_out, r_in = _r_magic_names(source)
    if r_out or r_in:
        return r_out, r_in
    try:
        tree = ast.parse(_python_source(source))
    except SyntaxError:
        return set(), set()
    defined, used = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (defined if isinstance(node.ctx, (ast.Store, ast.Del)) else used).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
    return defined, used


def path_copy(nb: nbformat.NotebookNode, path: str) -> nbformat.NotebookNode:
    """The cells of reading ``path`` plus every other code cell they need to run (setup included).

    A cell of another path is kept when it is code and binds a name that a kept cell later reads; this is
    followed backwards until nothing changes, so dependencies of dependencies are kept as well.
    """
    if path not in PATH_TIERS:
        raise ValueError(f"path {path!r} is not one of {list(PATH_TIERS)}")
    cells = nb.cells
    keep = [bool(set(nt.tier_of(c)) & set(PATH_TIERS[path])) for c in cells]
    keep[:2] = [True, True]  # title with badge, setup cell
    analysed = [names_defined_and_used(c.source) if c.cell_type == "code" else (set(), set()) for c in cells]
    needed: set[str] = set()
    for i in range(len(cells) - 1, -1, -1):
        defined, used = analysed[i]
        if not keep[i] and cells[i].cell_type == "code" and defined & needed:
            keep[i] = True
        if keep[i]:
            needed = (needed - defined) | used if cells[i].cell_type == "code" else needed
    out = copy.deepcopy(nb)
    out.cells = [c for c, k in zip(out.cells, keep) if k]
    return out


def write_paths(folder: str | Path, out: str | Path) -> list[Path]:
    """One copy of the course per reading path: ``out/<path>/<notebook>.ipynb``."""
    return [_write(path_copy(_read(p), path), Path(out) / path / p.name)
            for path in PATH_TIERS for p in nt.notebooks(folder)]


# ------------------------------------------------------------------------------------------------ badges
def _check_fork(repo: str, branch: str) -> None:
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo):
        raise ValueError(f"repo must look like OWNER/NAME, got {repo!r}")
    if not re.fullmatch(r"[\w./-]+", branch):
        raise ValueError(f"branch {branch!r} has characters a branch name cannot have")


def rewrite_links(text: str, repo: str, branch: str) -> str:
    """Point every Colab badge and ``git+https`` install URL in ``text`` at ``repo``/``branch``."""
    text = nt.BADGE_RE.sub(lambda m: nt.badge_url(m.group(3), repo, branch), text)
    return nt.INSTALL_RE.sub(f"git+https://github.com/{repo}@{branch}", text)


def set_badges(repo: str, branch: str, root: str | Path = nt.NOTEBOOK_DIR.parent) -> list[Path]:
    """Rewrite badges and install URLs in the notebooks, README and the configuration (notebook_tools).

    Returns the files that changed. Run it in an instructor's fork, then commit the result.
    """
    _check_fork(repo, branch)
    root = Path(root)
    changed = []
    config = root / "course_utils" / "notebook_tools.py"
    for path in [*nt.notebooks(root / "notebooks"), root / "README.md", config]:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        new = rewrite_links(text, repo, branch)
        if path == config:
            new = re.sub(r'^REPO = ".*"$', f'REPO = "{repo}"', new, flags=re.M)
            new = re.sub(r'^BRANCH = ".*"$', f'BRANCH = "{branch}"', new, flags=re.M)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed
