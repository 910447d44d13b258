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


def find_notebook_dir(folder: str | Path | None = None) -> Path:
    """The folder that holds the course notebooks (``00_start_here.ipynb`` …).

    Looks, in this order, in ``folder`` (if given), ``$COURSE_NOTEBOOKS``, the current directory (a running
    notebook's own folder), ``notebooks/`` in the current directory or any folder above it (a repository
    checkout), and next to this package (an editable install). A non-editable install (``pip install``, Colab)
    has no notebooks next to the package, so the notebooks are found from where you run them.

    Raises:
        FileNotFoundError: no such folder; the message lists where it looked and what to do.
    """
    import os

    if folder is not None:
        candidates = [Path(folder)]
    else:
        cwd = Path.cwd()
        candidates = [Path(os.environ["COURSE_NOTEBOOKS"])] if os.environ.get("COURSE_NOTEBOOKS") else []
        candidates += [cwd] + [d / "notebooks" for d in (cwd, *cwd.parents)] + [NOTEBOOK_DIR]
    for candidate in candidates:
        if notebooks(candidate):
            return candidate.resolve()
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise FileNotFoundError(
        f"no course notebooks (00_….ipynb … 07_….ipynb) found; looked in: {looked}. Run this from the course's "
        "notebooks/ folder or a checkout of the repository (git clone https://github.com/" + REPO + "), set "
        "$COURSE_NOTEBOOKS to the folder, or pass folder=…")


def reading_map(folder: str | Path | None = None) -> "pandas.DataFrame":  # noqa: F821
    """Every section heading (``##``) of every notebook with its tier: the course map of notebook 00.

    Args:
        folder: the notebooks' folder; default :func:`find_notebook_dir` (works after a non-editable install).

    Returns:
        DataFrame with columns ``notebook, section, tier`` in reading order.
    """
    import pandas as pd

    rows = []
    for path in notebooks(find_notebook_dir(folder)):
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


#: Reading speed for the course's technical prose, words per minute. Brysbaert (2019, J. Memory and Language
#: 109) finds about 240 for silent reading of English non-fiction; we assume a slower 200 for text with maths.
WORDS_PER_MINUTE = 200


def path_words(nb: nbformat.NotebookNode) -> dict[str, int]:
    """Words of prose each reading path reads in ``nb``: the markdown cells of its tier and the lighter ones.

    A path keeps its own cells and those of the lighter paths (essentials ⊂ practitioner ⊂ deep-dive).
    Words are whitespace-separated strings of markdown cells; code cells are not counted.

    Returns:
        dict ``{"essentials": n, "practitioner": n, "deep-dive": n}`` (cumulative).
    """
    own = dict.fromkeys(TIERS, 0)
    for c in nb.cells:
        tiers = tier_of(c)
        if c.cell_type == "markdown" and tiers:
            own[tiers[0]] += len(c.source.split())
    return {tier: sum(own[t] for t in TIERS[: i + 1]) for i, tier in enumerate(TIERS)}


def reading_times(folder: str | Path | None = None, *, words_per_minute: int = WORDS_PER_MINUTE) -> "pandas.DataFrame":  # noqa: F821
    """Reading time of every notebook on every path, computed from its words (:func:`path_words`).

    Args:
        folder: the notebooks' folder; default :func:`find_notebook_dir`.
        words_per_minute: reading speed (default :data:`WORDS_PER_MINUTE`); an int > 0.

    Returns:
        DataFrame indexed by notebook with columns ``words_<path>`` and ``minutes_<path>`` for each path
        (minutes rounded up), plus a last row ``total``. Running the cells is not included.
    """
    import math

    import pandas as pd

    if isinstance(words_per_minute, bool) or not isinstance(words_per_minute, int) or words_per_minute <= 0:
        raise ValueError(f"words_per_minute={words_per_minute!r}: give a positive integer such as {WORDS_PER_MINUTE}")
    rows = {}
    for path in notebooks(find_notebook_dir(folder)):
        words = path_words(nbformat.read(str(path), as_version=4))
        rows[path.stem] = {f"words_{t}": words[t] for t in TIERS}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.loc["total"] = table.sum()
    for t in TIERS:
        table[f"minutes_{t}"] = [math.ceil(w / words_per_minute) for w in table[f"words_{t}"]]
    return table[[f"{kind}_{t}" for t in TIERS for kind in ("words", "minutes")]]
