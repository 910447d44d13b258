"""The notebooks' shared conventions: Colab badge, setup cell, tier tags, clean storage; reading paths as
layers (``PATHS``), words of prose and reading times per path (``path_words``, ``reading_minutes``).

Used by the authors (``build_notebook``), by ``tests/test_notebook_conventions.py``, by notebook 00's course
map and by the command line (``python -m course_utils badges|student|paths``). Change the repository or
branch in ONE place: here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

from .._validation import check_scalar

REPO = "explaining-bert/explaining-bert"
BRANCH = "main"
TIERS = ("essentials", "practitioner", "deep-dive")
TIER_MARK = {"essentials": "🟢", "practitioner": "🔵", "deep-dive": "🟣"}
#: reading paths are layers: each path reads its own tier and every lighter one
PATHS = {"essentials": ("essentials",), "practitioner": ("essentials", "practitioner"), "deep-dive": TIERS}
CHECK_MARKER = "# NBVAL_CHECK_OUTPUT"


def _checkout_root() -> Path:
    """The folder that holds the package ``course_utils/`` (the repository root in a clone or editable install)."""
    return Path(__file__).resolve().parents[2]  # course_utils/course/notebook_tools.py → the root


def _notebook_dir() -> Path:
    """The course's notebooks: the repository's ``notebooks/`` (a clone, an editable install), else the copy a
    non-editable install (Colab's ``pip install``) puts under ``<prefix>/share/explaining-bert/notebooks``."""
    repo = _checkout_root() / "notebooks"
    if any(repo.glob("[0-9][0-9]_*.ipynb")):
        return repo
    return Path(sys.prefix) / "share" / "explaining-bert" / "notebooks"


NOTEBOOK_DIR = _notebook_dir()

BADGE_RE = re.compile(
    r"https://colab\.research\.google\.com/github/([^/]+/[^/]+)/blob/([^/]+)/notebooks/([\w.-]+\.ipynb)"
)
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
        'if "google.colab" in sys.modules:\n'
        "    import importlib.util, subprocess\n"
        '    if importlib.util.find_spec("course_utils") is None:  # later notebooks in the runtime skip this\n'
        '        print("Installing the course (about a minute, once per runtime) ...")\n'
        '        pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
        f'                              "explaining-bert @ {url}"],\n'
        "                             capture_output=True, text=True)\n"
        "        if pip.returncode:\n"
        '            raise RuntimeError("pip could not install the course:\\n" + pip.stdout + pip.stderr)\n'
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
        raise FileNotFoundError(
            f"no course notebooks (00_….ipynb to 07_….ipynb) in {folder}: pass folder= the "
            "notebooks/ folder of a clone, or reinstall the course (pip install explaining-bert)"
        )
    return found


def find_notebook_dir(folder: str | Path | None = None) -> Path:
    """The folder that holds the course notebooks (``00_start_here.ipynb`` …).

    Looks, in this order, in ``folder`` (if given), ``$COURSE_NOTEBOOKS``, the current directory (a running
    notebook's own folder), ``notebooks/`` in the current directory or any folder above it (a repository
    checkout), and :data:`NOTEBOOK_DIR`: next to this package (an editable install) or the copy a non-editable
    install (``pip install``, Colab) puts under ``<prefix>/share/explaining-bert/notebooks``.

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
        if any(Path(candidate).glob("[0-9][0-9]_*.ipynb")):
            return Path(candidate).resolve()
    looked = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise FileNotFoundError(
        f"no course notebooks (00_….ipynb … 07_….ipynb) found; looked in: {looked}. Run this from the course's "
        "notebooks/ folder or a checkout of the repository (git clone https://github.com/" + REPO + "), set "
        "$COURSE_NOTEBOOKS to the folder, or pass folder=…"
    )


def docs_dir() -> Path:
    """The course's ``docs/`` folder (glossary, cheat sheet): beside the notebooks of a checkout, beside this
    package (editable install), or under ``<prefix>/share/explaining-bert/docs`` (non-editable install, Colab).

    Raises:
        FileNotFoundError: none of them holds ``cheatsheet.md``.
    """
    candidates = []
    try:
        candidates.append(find_notebook_dir().parent / "docs")
    except FileNotFoundError:
        pass
    candidates += [_checkout_root() / "docs", Path(sys.prefix) / "share" / "explaining-bert" / "docs"]
    for candidate in candidates:
        if (candidate / "cheatsheet.md").is_file():
            return candidate
    raise FileNotFoundError(
        f"no course docs (cheatsheet.md) in {', '.join(map(str, candidates))}: run from a checkout "
        "of the repository or reinstall the course"
    )


# A docs page's links are written from docs/ (GitHub and a clone show them there): a sibling page is ``name.md``,
# a notebook ``../notebooks/NN_name.ipynb``. Shown in a notebook, they must start from notebooks/.
_DOCS_SIBLING_RE = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|/|\.\./|#)([\w-]+\.md)")
#: a docs page's link into notebooks/ (also what the course site rewrites: course_utils.course.site)
DOCS_TO_NOTEBOOKS_RE = re.compile(r"\]\(\.\./notebooks/")


def doc_page(name: str) -> str:
    """The Markdown of the course page ``docs/<name>.md`` (e.g. ``"cheatsheet"``), with its links rewritten to
    work from a notebook in ``notebooks/``: ``glossary.md`` becomes ``../docs/glossary.md`` and
    ``../notebooks/03_integrated_gradients.ipynb`` becomes ``03_integrated_gradients.ipynb``. Display it with
    ``IPython.display.Markdown(doc_page("cheatsheet"))``; the course site turns the same links into its pages.

    Raises:
        FileNotFoundError: no such page (the message lists the pages there are).
    """
    folder = docs_dir()
    path = folder / f"{name}.md"
    if not path.is_file():
        pages = sorted(p.stem for p in folder.glob("*.md"))
        raise FileNotFoundError(f"no course page {name!r} in {folder}; the pages are: {', '.join(pages)}")
    text = path.read_text(encoding="utf-8")
    return DOCS_TO_NOTEBOOKS_RE.sub("](", _DOCS_SIBLING_RE.sub(r"](../docs/\1", text))


def reading_map(folder: str | Path | None = None) -> pandas.DataFrame:  # noqa: F821
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


# ------------------------------------------------------------------------------------ words and reading time
#: reading speed for reading times: about 200 words a minute, a common figure for careful reading of
#: technical prose (general non-fiction is read at ~240; maths-heavy text slower)
WORDS_PER_MINUTE = 200
_MD_IMAGE = re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)")
_MD_LINK = re.compile(r"\[([^\]\n]*)\]\([^)\n]*\)")
_HTML = re.compile(r"<!--.*?-->|<[^>\n]+>", re.S)
_URL = re.compile(r"\bhttps?://\S+")
_WORD = re.compile(r"\w")


def prose_words(markdown: str) -> int:
    """The number of words a reader reads in ``markdown``.

    Images (``![alt](src)``), HTML tags and comments and bare URLs count nothing; a link counts its text, not
    its address. What is left is split at white space, and a piece counts as a word when it holds a letter or
    a digit (so ``—``, ``|`` and the marks 🟢🔵🟣 do not; ``f(x′)`` and ```explain()``` count once).
    """
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a str, got {type(markdown).__name__}")
    text = _URL.sub(" ", _MD_LINK.sub(r"\1", _MD_IMAGE.sub(" ", _HTML.sub(" ", markdown))))
    return sum(1 for piece in text.split() if _WORD.search(piece))


def _notebook(notebook: str | Path | nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A notebook from a NotebookNode, a file, or a course notebook's name ("03_integrated_gradients")."""
    if isinstance(notebook, dict) and "cells" in notebook:
        return notebook
    if not isinstance(notebook, (str, Path)):
        raise TypeError(
            f"notebook must be a path, a notebook name or an nbformat notebook, got {type(notebook).__name__}"
        )
    path = Path(notebook)
    if not path.is_file():
        for candidate in (NOTEBOOK_DIR / path.name, NOTEBOOK_DIR / f"{path.name}.ipynb"):
            if candidate.is_file():
                path = candidate
                break
        else:
            raise FileNotFoundError(
                f"no notebook {str(notebook)!r}: give a path to an .ipynb file or the name of one "
                f"of {[p.stem for p in notebooks()]}"
            )
    return nbformat.read(str(path), as_version=4)


def path_words(notebook: str | Path | nbformat.NotebookNode, path: str) -> int:
    """Words of prose (:func:`prose_words`) in the markdown cells that reading ``path`` reads in ``notebook``.

    Paths are layers (:data:`PATHS`): "essentials" counts the cells tagged ``essentials``, "practitioner"
    those and the ``practitioner`` cells, "deep-dive" every markdown cell with a tier tag.

    Raises:
        TypeError: ``notebook`` or ``path`` has the wrong type. ValueError: ``path`` is not a reading path.
        FileNotFoundError: no such notebook.
    """
    if not isinstance(path, str):
        raise TypeError(f"path must be a str, one of {list(PATHS)}, got {type(path).__name__}")
    if path not in PATHS:
        raise ValueError(f"path {path!r} is not one of {list(PATHS)}")
    tiers = set(PATHS[path])
    return sum(
        prose_words(c.source)
        for c in _notebook(notebook).cells
        if c.cell_type == "markdown" and set(tier_of(c)) & tiers
    )


def reading_minutes(
    notebook: str | Path | nbformat.NotebookNode, path: str, *, words_per_minute: float = WORDS_PER_MINUTE
) -> float:
    """Minutes to read the prose of ``notebook`` on reading ``path``: :func:`path_words` / ``words_per_minute``.

    Counts prose only (markdown cells of the path's tiers), at :data:`WORDS_PER_MINUTE` = 200 words a minute
    unless told otherwise; running the code and looking at figures come on top. Notebook 00's reading map
    prints these, e.g. ``round(reading_minutes("03_integrated_gradients", "essentials"))``.

    Args:
        notebook: an ``.ipynb`` path, a course notebook's name (``"03_integrated_gradients"``) or a notebook.
        path: "essentials", "practitioner" or "deep-dive".
        words_per_minute: reading speed, a positive number.

    Raises:
        TypeError: wrong types (a bool is not a speed). ValueError: unknown ``path``, speed not positive.
        FileNotFoundError: no such notebook.
    """
    check_scalar(
        words_per_minute,
        "words_per_minute",
        float,
        min_val=0,
        include_boundaries="neither",
        hint="(reading speed)",
    )
    return path_words(notebook, path) / words_per_minute


def reading_times(
    folder: str | Path | None = None, *, words_per_minute: float = WORDS_PER_MINUTE
) -> pandas.DataFrame:  # noqa: F821
    """Words and reading minutes of every notebook on every reading path.

    ``folder``: the notebooks' folder; default :func:`find_notebook_dir` (works after a non-editable install).

    Returns:
        DataFrame with columns ``notebook, path, words, minutes``: one row per notebook and path
        (:func:`path_words`, :func:`reading_minutes`), notebooks in reading order, paths light to deep.
    """
    import pandas as pd

    rows = []
    for nb_path in notebooks(find_notebook_dir(folder)):
        nb = nbformat.read(str(nb_path), as_version=4)
        for path in PATHS:
            words = path_words(nb, path)
            rows.append(
                (nb_path.stem, path, words, reading_minutes(nb, path, words_per_minute=words_per_minute))
            )
    return pd.DataFrame(rows, columns=["notebook", "path", "words", "minutes"])
