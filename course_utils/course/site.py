"""The course as a website: Sphinx + MyST-NB + sphinx-book-theme, built from the notebooks ``make course`` ran.

    python -m course_utils site                 # build/*.ipynb (executed) -> build/site/index.html

Nothing is executed again: MyST-NB renders the stored outputs (``nb_execution_mode = "off"``). The site has a
sidebar table of contents in reading order, full-text search, an "Open in Colab" launch button and a
download button (the executed ``.ipynb``) on every notebook page, the glossary and cheat sheet of ``docs/``,
and a reading-path switcher (🟢/🔵/🟣, ``docs/_static/course-paths.js``) driven by the cells' tier tags.
Every file the pages load is in the site folder (MathJax 3 copied from the PyPI package
``sphinx-mathjax-offline``, the theme's own fonts and scripts), so it opens from disk without a network.

What changes between an executed notebook and its page (:func:`site_notebook`): the Colab badge goes (the
launch button replaces it, and the badge image would be fetched from the web); each markdown cell gets a
hidden tier marker; solution cells are collapsed; widget outputs, which need a live kernel, become static
HTML (a progress bar's final state, or a note on how to run the interactive explorer); links in Markdown and
HTML outputs (the cheat sheet shown in notebook 00) point to the site's pages.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import nbformat

from . import notebook_tools as nt

DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"  # course_utils/course/site.py → the repository root
#: hand-written pages of the site (docs/<name>.md), after the notebooks in the table of contents
REFERENCE_PAGES = ("glossary", "cheatsheet", "large_corpora")
# Links as they work on GitHub and in a clone (docs/ and notebooks/ side by side), and as they must read in the
# site, whose sources put the docs pages at the root and the notebooks under notebooks/.
DOCS_TO_NOTEBOOKS_RE = nt.DOCS_TO_NOTEBOOKS_RE
NOTEBOOKS_TO_DOCS_RE = re.compile(r"\]\(\.\./docs/([\w-]+)\.md")
# Links in a notebook's *outputs* (a docs page shown with notebook_tools.doc_page, a table of links): the site
# renders outputs as they are, without resolving links to pages, so they are rewritten to the pages' HTML files
# (a notebook page is notebooks/NN_name.html, a docs page <name>.html at the root).
OUTPUT_DOCS_LINK_RE = re.compile(r"(\]\(|href=[\"'])\.\./docs/([\w-]+)\.md")
OUTPUT_NOTEBOOK_LINK_RE = re.compile(r"(\]\(|href=[\"'])(?:\.\./notebooks/)?(\d\d_[\w-]+)\.ipynb")
OUTPUT_LINK_FORMATS = ("text/markdown", "text/html")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PROGRESS_MODELS = ("FloatProgressModel", "IntProgressModel")
BADGE_MD_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(" + nt.BADGE_RE.pattern + r"\)\s*")
HEADING_RE = re.compile(r"^#{1,6} ")
INTERACTIVE_NOTE = (
    '<div class="course-interactive"><b>Interactive widget.</b> It needs a running Python kernel, so this page '
    "cannot show it. Open the notebook in Colab (the rocket button at the top), run it locally, or start the "
    "explorer as an app of its own: <code>python -m course_utils explorer</code>.</div>"
)

__all__ = [
    "DOCS_DIR",
    "REFERENCE_PAGES",
    "MATHJAX_PARTS",
    "site_notebook",
    "prepare",
    "sphinx_conf",
    "build_site",
    "mathjax_source",
]


# ------------------------------------------------------------------------------------- notebook pages
def _tier(cell) -> str:
    tiers = [t for t in cell.get("metadata", {}).get("tags", []) if t in nt.TIERS]
    return tiers[0] if tiers else nt.TIERS[0]


def _marker(tier: str) -> str:
    return f'<div class="course-tier" data-tier="{tier}"></div>'


def _with_marker(source: str, tier: str) -> str:
    """The markdown with its tier marker: after the first line when that is a heading (it stays in its section)."""
    lines = source.split("\n")
    if lines and HEADING_RE.match(lines[0]):
        return lines[0] + "\n\n" + _marker(tier) + "\n\n" + "\n".join(lines[1:]).lstrip("\n")
    return _marker(tier) + "\n\n" + source


def _widget_tree(model_id: str, state: dict) -> list[dict]:
    """The widget models reachable from ``model_id`` (itself first) in a notebook's stored widget state."""
    seen, order, todo = set(), [], [model_id]
    while todo:
        mid = todo.pop(0)
        if mid in seen or mid not in state:
            continue
        seen.add(mid)
        model = state[mid]
        order.append(model)
        children = model.get("state", {}).get("children", [])
        todo.extend(str(c).removeprefix("IPY_MODEL_") for c in children)
    return order


def _static_widget(view: dict, state: dict) -> str:
    """HTML for one widget output: a tqdm bar in its final state, or the note for interactive widgets."""
    tree = _widget_tree(str(view.get("model_id", "")), state)
    bars = [m["state"] for m in tree if m.get("model_name") in PROGRESS_MODELS]
    if not bars:
        return INTERACTIVE_NOTE
    texts = [m["state"].get("value", "") for m in tree if m.get("model_name") == "HTMLModel"]
    bar = bars[0]
    left, right = (texts + ["", ""])[:2]
    value, top = float(bar.get("value", 0) or 0), float(bar.get("max", 1) or 1)
    return (
        f'<div class="course-progress">{left}<progress value="{value:g}" max="{top:g}"></progress>'
        f"{right}</div>"
    )


def _site_links(text: str | list[str]) -> str:
    """An output's Markdown or HTML with its links to course notebooks and docs pages made site links."""
    text = "".join(text) if isinstance(text, list) else text
    text = OUTPUT_DOCS_LINK_RE.sub(r"\1../\2.html", text)
    return OUTPUT_NOTEBOOK_LINK_RE.sub(r"\1\2.html", text)


def site_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of an executed notebook ready to become a page (the original is not changed).

    Removes the Colab badge, adds a tier marker to every markdown cell, tags solution cells ``hide-input``
    (collapsed, one click to open), turns widget outputs into static HTML, and makes the links to notebooks and
    docs pages in Markdown and HTML outputs point to their pages. Other outputs are kept as they are.
    """
    import copy

    if not isinstance(nb, nbformat.NotebookNode):
        raise TypeError(f"nb must be a notebook (nbformat.NotebookNode), got {type(nb).__name__}")
    nb = copy.deepcopy(nb)
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    language = nb.metadata.setdefault("language_info", {"name": "python"})
    if language.get("name") == "python":
        language["pygments_lexer"] = "ipython3"  # `!pip` and `%%R` cells are IPython, not plain Python
    for cell in nb.cells:
        tier = _tier(cell)
        if cell.cell_type == "markdown":
            cell.source = _with_marker(
                NOTEBOOKS_TO_DOCS_RE.sub(r"](../\1.md", BADGE_MD_RE.sub("", cell.source)), tier
            )
            continue
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.setdefault("tags", [])
        if "solution" in tags and "hide-input" not in tags:
            tags.append("hide-input")
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for mime in OUTPUT_LINK_FORMATS:
                if mime in data:
                    data[mime] = _site_links(data[mime])
            if WIDGET_VIEW in data:
                out["data"] = {
                    "text/html": _static_widget(data[WIDGET_VIEW], state),
                    "text/plain": data.get("text/plain", ""),
                }
    return nb


# ------------------------------------------------------------------------------------------ sources
def sphinx_conf(repo: str = nt.REPO, branch: str = nt.BRANCH, *, title: str = "Explaining BERT") -> dict:
    """The Sphinx configuration of the site, as a dict of ``conf.py`` names -> values.

    Launch buttons point at ``github.com/<repo>`` on ``branch`` (see ``python -m course_utils badges``).
    """
    return {
        "project": title,
        "author": "the Explaining BERT authors",
        "copyright": f"{time.strftime('%Y')}, the Explaining BERT authors (code: MIT)",
        "extensions": ["myst_nb"],
        "mathjax_path": "mathjax/tex-chtml.js",  # MathJax 3 from the site's own folder (see _copy_mathjax)
        "nb_execution_mode": "off",  # render the outputs make course stored; never execute
        "nb_ipywidgets_js": {},  # widget outputs are made static: load no widget scripts (CDN)
        "nb_merge_streams": True,
        "myst_enable_extensions": ["dollarmath", "amsmath", "colon_fence", "deflist"],
        "myst_heading_anchors": 3,
        "exclude_patterns": ["_build", "**/.ipynb_checkpoints"],
        "templates_path": ["_templates"],
        "html_static_path": ["_static"],
        "html_js_files": ["course-paths.js"],
        "html_css_files": ["course-paths.css"],
        "html_title": title,
        "html_context": {"default_mode": "light"},  # the theme's toggle still offers dark and auto
        "html_theme": "sphinx_book_theme",
        "html_theme_options": {
            "repository_url": f"https://github.com/{repo}",
            "repository_branch": branch,
            "path_to_docs": "",  # pages notebooks/NN_x.ipynb are the repository's own paths
            "launch_buttons": {"colab_url": "https://colab.research.google.com"},
            "use_download_button": True,
            "use_repository_button": True,
            "home_page_in_toc": True,
            "show_navbar_depth": 1,
            # the reading-path switcher sits in the bar above every page, beside the launch buttons
            "article_header_end": ["course-paths.html", "article-header-buttons.html"],
        },
        "html_last_updated_fmt": "%Y-%m-%d %H:%M",
        "suppress_warnings": ["mystnb.unknown_mime_type"],
    }


#: the parts of MathJax 3 the pages load: the TeX → HTML bundle, its fonts, the TeX extensions it loads on
#: demand, the context menu and assistive MathML (not the speech maps or the SVG output: 4 of its 24 MB)
MATHJAX_PARTS = ("tex-chtml.js", "output/chtml", "input/tex/extensions", "ui", "a11y")


def mathjax_source() -> Path:
    """The MathJax 3 distribution that the PyPI package ``sphinx-mathjax-offline`` ships (its ``static/mathjax``)."""
    import importlib.util

    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "the site needs MathJax from the package sphinx-mathjax-offline: "
            "pip install 'explaining-bert[site]' (make course installs it)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax"


def _copy_mathjax(static: Path) -> None:
    source = mathjax_source()
    for part in MATHJAX_PARTS:
        src, dst = source / part, static / "mathjax" / part
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)


def _index(docs: Path, notebooks: list[Path]) -> str:
    source = docs / "index.md"
    if not source.exists():
        raise FileNotFoundError(f"no {source}: the site's front page is written by hand there")
    pages = "\n".join(f"notebooks/{p.stem}" for p in notebooks)
    refs = "\n".join(name for name in REFERENCE_PAGES if (docs / f"{name}.md").exists())
    toc = f"\n\n```{{toctree}}\n:caption: Notebooks\n:maxdepth: 1\n:hidden:\n\n{pages}\n```\n"
    if refs:
        toc += f"\n```{{toctree}}\n:caption: Reference\n:maxdepth: 1\n:hidden:\n\n{refs}\n```\n"
    return source.read_text(encoding="utf-8").rstrip("\n") + toc


def prepare(
    executed: str | Path,
    src: str | Path,
    *,
    docs: str | Path = DOCS_DIR,
    repo: str = nt.REPO,
    branch: str = nt.BRANCH,
) -> list[Path]:
    """Write the site's sources into ``src`` (emptied first): conf.py, the pages of ``docs`` and the notebooks.

    Args:
        executed: folder of executed notebooks ``NN_name.ipynb`` (``build/``, written by ``make course``).
        src: the Sphinx source folder to write (e.g. ``build/site-src``).
        docs: the hand-written pages (``index.md``, ``glossary.md``, ``cheatsheet.md``, ``_static``, ``_templates``).

    Returns:
        the notebook pages written, in reading order.

    Raises:
        FileNotFoundError: no executed notebook in ``executed`` (run ``python -m course_utils build`` first),
        or no ``index.md`` in ``docs``.
    """
    executed, src, docs = Path(executed), Path(src), Path(docs)
    notebooks = sorted(executed.glob("[0-9][0-9]_*.ipynb"))  # nt.notebooks() would raise its own message
    if not notebooks:
        raise FileNotFoundError(
            f"no executed notebooks (NN_name.ipynb) in {executed}: run `python -m course_utils "
            "build` (or `make course`) first"
        )
    index = _index(docs, notebooks)
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(docs, src, ignore=shutil.ignore_patterns("index.md", ".*"))
    for page in src.glob(
        "*.md"
    ):  # links written for GitHub (../notebooks/…) point into the site's notebooks/
        page.write_text(
            DOCS_TO_NOTEBOOKS_RE.sub("](notebooks/", page.read_text(encoding="utf-8")), encoding="utf-8"
        )
    (src / "index.md").write_text(index, encoding="utf-8")
    _copy_mathjax(src / "_static")
    conf = sphinx_conf(repo, branch)
    (src / "conf.py").write_text(
        "# Written by course_utils.site.prepare: edit sphinx_conf() there instead.\n"
        + "".join(f"{k} = {v!r}\n" for k, v in conf.items()),
        encoding="utf-8",
    )
    written = []
    for path in notebooks:
        out = src / "notebooks" / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(site_notebook(nbformat.read(str(path), as_version=4)), str(out))
        written.append(out)
    return written


def build_site(
    executed: str | Path = "build",
    out: str | Path | None = None,
    *,
    src: str | Path | None = None,
    docs: str | Path = DOCS_DIR,
    repo: str = nt.REPO,
    branch: str = nt.BRANCH,
    strict: bool = False,
    quiet: bool = True,
) -> Path:
    """Build the site from the executed notebooks in ``executed``; return its ``index.html``.

    Args:
        executed: folder of executed notebooks (default ``build``).
        out: the site's folder (default ``<executed>/site``); src: its sources (default ``<executed>/site-src``).
        strict: turn Sphinx warnings into errors (the tests use it); quiet: print warnings only.

    Raises:
        FileNotFoundError: see :func:`prepare`. ImportError: the ``site`` extra (Sphinx, MathJax) is missing.
        RuntimeError: Sphinx failed (its messages are printed above).
    """
    executed = Path(executed)
    out = Path(out) if out is not None else executed / "site"
    src = Path(src) if src is not None else executed / "site-src"
    prepare(
        executed, src, docs=docs, repo=repo, branch=branch
    )  # first: it says when the notebooks are missing
    try:
        from sphinx.cmd.build import build_main
    except ImportError as exc:
        raise ImportError(
            f"the site needs Sphinx ({exc}): pip install 'explaining-bert[site]' (make course installs it)"
        ) from exc
    args = ["-b", "html", "-E", "-a", str(src), str(out)]
    if quiet:
        args.insert(0, "-q")
    if strict:
        args[:0] = ["-W", "--keep-going"]
    code = build_main(args)
    if code:
        raise RuntimeError(f"Sphinx could not build the site from {src} (exit status {code}; messages above)")
    return (out / "index.html").resolve()
