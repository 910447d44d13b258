"""The package's layout (issue 16): the reusable library never imports the course's scaffolding, no module
imports another in a circle, and the old import paths of the scaffolding still work for one release.

The import graph is read from the source with ``ast`` (nothing is imported to build it): every ``import`` and
``from … import`` anywhere in a module (also inside functions, ``try`` blocks and ``if TYPE_CHECKING:``),
relative imports resolved against the module's package, ``from . import x`` taken as an import of the
submodule ``x`` when there is one. Importing a submodule is not counted as importing its parent package.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "course_utils"
ROOT = "course_utils"
COURSE = "course_utils.course"

#: old import path → where the module lives now. Each old file is a thin alias (``sys.modules[__name__] = new``),
#: so ``from course_utils import figures`` (the notebooks), ``from course_utils.figures import X`` and
#: monkeypatching either name all reach the same module object. Kept for one release.
OLD_PATHS = {
    "course_utils.build": "course_utils.course.build",
    "course_utils.evaluation_figures": "course_utils.course.evaluation_figures",
    "course_utils.figures": "course_utils.course.figures",
    "course_utils.instructor": "course_utils.course.instructor",
    "course_utils.masking_figures": "course_utils.course.masking_figures",
    "course_utils.notebook_tools": "course_utils.course.notebook_tools",
    "course_utils.site": "course_utils.course.site",
}
#: modules allowed to reach into the scaffolding besides it and the aliases: the package's front door (its lazy
#: ``setup``) and ``python -m course_utils`` (the course's command line).
FRONT_DOORS = {"course_utils", "course_utils.__main__"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def _resolve_relative(module: str, level: int, target: str | None) -> str:
    package = module if _is_package(module) else module.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{target}" if target else package


def _known(name: str) -> str | None:
    """``name`` if it is a module of the package, else its nearest enclosing module (``a.b.func`` → ``a.b``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str) -> list[tuple[str, int]]:
    """The package modules ``module`` imports, with the line of each import statement."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(module, node.level, node.module) if node.level else (node.module or "")
            # `from pkg import name`: the submodule pkg.name when there is one, else pkg itself
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        for target in targets:
            known = _known(target)
            if known and known != module:
                found.append((known, node.lineno))
    return found


IMPORTS = {m: imports(m) for m in MODULES}  # parsed once: every test below reads these
GRAPH = {m: sorted({t for t, _ in found}) for m, found in IMPORTS.items()}


def is_scaffolding(module: str) -> bool:
    return module == COURSE or module.startswith(COURSE + ".")


def is_library(module: str) -> bool:
    return not (is_scaffolding(module) or module in OLD_PATHS or module in FRONT_DOORS)


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first = last), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = GREY
        stack.append(node)
        for nxt in graph.get(node, ()):
            if colour.get(nxt) == GREY:
                return stack[stack.index(nxt) :] + [nxt]
            if colour.get(nxt) == WHITE:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = BLACK
        return None

    for start in sorted(graph):
        if colour[start] == WHITE:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


# ------------------------------------------------------------------------------------------ the graph reader
def test_graph_reader_resolves_relative_and_function_level_imports():
    """Known edges of the package, written in each of the forms the reader must understand."""
    assert (
        "course_utils.attribution._masking" in GRAPH["course_utils.attribution._atman"]
    )  # from ._masking import …
    assert (
        "course_utils.attribution" in GRAPH["course_utils.evaluation._sanity"]
    )  # from ..attribution import explain
    assert (
        "course_utils.attribution._cls_forward" in GRAPH["course_utils.attribution._ig"]
    )  # from . import _cls_forward
    assert "course_utils.scale" in GRAPH["course_utils.corpus"]  # inside a function


def test_find_cycle_reports_the_cycle():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"], "d": []}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["b"], "b": [], "c": ["a"]}) is None


# ---------------------------------------------------------------------------------------------- the rules
def test_no_import_cycles():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_library_never_imports_the_course_scaffolding():
    offences = [
        f"{MODULES[m].relative_to(PACKAGE_DIR.parent)}:{line} imports {target}"
        for m in MODULES
        if is_library(m)
        for target, line in IMPORTS[m]
        if is_scaffolding(target) or target in OLD_PATHS or target in FRONT_DOORS
    ]
    assert not offences, "the library imports the course scaffolding (course_utils/course/):\n" + "\n".join(
        offences
    )


def test_scaffolding_imports_new_paths_not_the_old_aliases():
    offences = [
        f"{MODULES[m].relative_to(PACKAGE_DIR.parent)}:{line} imports {target} (use {OLD_PATHS[target]})"
        for m in MODULES
        if m not in OLD_PATHS
        for target, line in IMPORTS[m]
        if target in OLD_PATHS
    ]
    assert not offences, "\n".join(offences)


def test_old_path_files_are_thin_aliases():
    for old, new in OLD_PATHS.items():
        assert old in MODULES, f"{old} is gone: keep a thin alias of {new} for one release"
        assert GRAPH[old] == [new], f"{old} should import only {new}, imports {GRAPH[old]}"


@pytest.mark.parametrize("old, new", sorted(OLD_PATHS.items()))
def test_old_import_path_is_the_new_module(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)
    package, _, leaf = old.rpartition(".")
    assert getattr(importlib.import_module(package), leaf) is importlib.import_module(
        new
    )  # `from course_utils import x`


def test_importing_the_package_loads_no_scaffolding():
    """``import course_utils`` (every library import starts with it) stays light: ``setup`` is loaded on use."""
    import subprocess
    import sys

    code = "import sys, course_utils; print(sorted(m for m in sys.modules if m.startswith('course_utils')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "course_utils.course" not in out, out
