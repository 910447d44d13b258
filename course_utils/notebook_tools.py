"""The notebooks' shared conventions: Colab badge, setup cell, tier tags, clean storage.

Used by the authors (``build_notebook``), by ``tests/test_notebook_conventions.py`` and by the command line
(``python -m course_utils badges|student|paths``). Change the repository or branch in ONE place: here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

REPO = "explaining-bert/explaining-bert"
BRANCH = "main"
TIERS = ("essentials", "practitioner", "deep-dive")
TIER_MARK = {"essentials": "🟢", "practitioner": "🔵", "deep-dive": "🟣"}
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"


def _notebook_dir() -> Path:
    """The course's notebooks: the repository's ``notebooks/`` (a clone, an editable install), else the copy a
    non-editable install (Colab's ``pip install``) puts under ``<prefix>/share/explaining-bert/notebooks``."""
    repo = Path(__file__).resolve().parent.parent / "notebooks"
    if any(repo.glob("[0-9][0-9]_*.ipynb")):
        return repo
    return Path(sys.prefix) / "share" / "explaining-bert" / "notebooks"


NOTEBOOK_DIR = _notebook_dir()

BADGE_RE = re.compile(r"https://colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/notebooks/([\w.-]+\.ipynb)")
INSTALL_RE = re.compile(r"git\+https://github\.com/([^/@\"']+/[^/@\"']+)@([\w./-]+)")


def badge_url(notebook: str, repo: str = REPO, branch: str = BRANCH) -> str:
    """The "Open in Colab" address of ``notebook`` (a file name such as ``"03_integrated_gradients.ipynb"``)."""
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/notebooks/{notebook}"


def badge_markdown(notebook: str, repo: str = REPO, branch: str = BRANCH) -> str:
    """The badge as Markdown: an image link to :func:`badge_url`."""
    img = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({img})]({badge_url(notebook, repo, branch)})"


def setup_source(repo: str = REPO, branch: str = BRANCH, seed: int = 42) -> str:
    """The first code cell of every notebook: in Colab, install the course once per runtime; then ``setup()``.

    The install keeps Colab's own torch, numpy, pandas, ipywidgets and IPython (the package states ranges that
    admit them) and stops the cell with pip's own message when it fails (``!pip`` would carry on silently).
    """
    url = f"git+https://github.com/{repo}@{branch}"
    return (
        "# Setup: in Colab, install the course once per runtime (Colab's own torch, numpy and pandas stay).\n"
        "# Locally, `make course` or `make test` installed it already.\n"
        "import sys\n"
        "if \"google.colab\" in sys.modules:\n"
        "    import importlib.util, subprocess\n"
        "    if importlib.util.find_spec(\"course_utils\") is None:  # later notebooks in the runtime skip this\n"
        "        print(\"Installing the course (about a minute, once per runtime) ...\")\n"
        "        pip = subprocess.run([sys.executable, \"-m\", \"pip\", \"install\", \"-q\",\n"
        f"                              \"explaining-bert @ {url}\"],\n"
        "                             capture_output=True, text=True)\n"
        "        if pip.returncode:\n"
        "            raise RuntimeError(\"pip could not install the course:\\n\" + pip.stdout + pip.stderr)\n"
        "from course_utils import setup\n"
        f"report = setup(seed={seed})"
    )


def cell(kind: str, source: str, tier: str, *extra_tags: str) -> nbformat.NotebookNode:
    """One notebook cell (``kind`` = "markdown" or "code") with exactly one tier tag plus ``extra_tags``."""
    if tier not in TIERS:
        raise ValueError(f"tier {tier!r} is not one of {TIERS}")
    make = nbformat.v4.new_code_cell if kind == "code" else nbformat.v4.new_markdown_cell
    c = make(source.strip("\n"))
    c.metadata["tags"] = [tier, *extra_tags]
    c.pop("id", None)
    return c


def build_notebook(path: str | Path, title_markdown: str, cells: list[nbformat.NotebookNode]) -> Path:
    """Write a notebook: title + badge (essentials), the setup cell (essentials), then ``cells``.

    ``title_markdown`` is the first cell's text without the badge (the badge line is prepended).
    """
    path = Path(path)
    head = [
        cell("markdown", badge_markdown(path.name) + "\n\n" + title_markdown.strip(), "essentials"),
        cell("code", setup_source(), "essentials"),
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = head + list(cells)
    for i, c in enumerate(nb.cells):  # stable ids: regenerating a notebook gives a small diff
        c["id"] = f"cell-{i:03d}"
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    clean(nb)
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip outputs and execution counts, except cells marked ``# NBVAL_CHECK_OUTPUT`` (kept as they are)."""
    for c in nb.cells:
        if c.cell_type == "code":
            if CHECK_MARKER not in c.source:
                c.outputs = []
                c.execution_count = None
        c.metadata.pop("execution", None)
    return nb


def tier_of(c: nbformat.NotebookNode) -> list[str]:
    """The tier tags of a cell (a convention-following cell has exactly one)."""
    return [t for t in c.get("metadata", {}).get("tags", []) if t in TIERS]


def notebooks(folder: str | Path = NOTEBOOK_DIR) -> list[Path]:
    """The course notebooks in reading order (``00_…`` to ``07_…``).

    Raises:
        FileNotFoundError: ``folder`` holds none (say where the notebooks are: ``folder=…``).
    """
    found = sorted(Path(folder).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no course notebooks (00_….ipynb to 07_….ipynb) in {folder}: pass folder= the "
                                "notebooks/ folder of a clone, or reinstall the course (pip install explaining-bert)")
    return found


def reading_map(folder: str | Path = NOTEBOOK_DIR) -> "pandas.DataFrame":  # noqa: F821
    """Every section heading (``##``) of every notebook with its tier: the course map of notebook 00.

    Returns:
        DataFrame with columns ``notebook, section, tier`` in reading order.
    """
    import pandas as pd

    rows = []
    for path in notebooks(folder):
        nb = nbformat.read(str(path), as_version=4)
        for c in nb.cells:
            tiers = tier_of(c)
            if c.cell_type != "markdown" or not tiers:
                continue
            for line in c.source.splitlines():
                if line.startswith("## "):
                    section = line[3:].strip()
                    for mark in TIER_MARK.values():
                        section = section.replace(mark, "").strip()
                    rows.append((path.stem, section, tiers[0]))
    return pd.DataFrame(rows, columns=["notebook", "section", "tier"])
