"""course_utils.site without a browser: what a notebook page gets, the sources written, the configuration.

The built site in a real browser: tests/test_site_browser.py.
"""

from __future__ import annotations

import nbformat
import pytest
from browser_support import require_site_extra

from course_utils import notebook_tools as nt
from course_utils import site


def _notebook(cells, widgets=None):
    for i, c in enumerate(cells):
        c["id"] = f"cell-{i:03d}"
    nb = nbformat.v4.new_notebook(cells=cells)
    if widgets is not None:
        nb.metadata["widgets"] = {
            site.WIDGET_STATE: {"state": widgets, "version_major": 2, "version_minor": 0}
        }
    return nb


def _view(model_id):
    return nbformat.v4.new_output(
        "display_data",
        data={
            site.WIDGET_VIEW: {"model_id": model_id, "version_major": 2},
            "text/plain": "HBox(children=(...))",
        },
    )


def test_site_notebook_drops_the_badge_and_marks_tiers():
    title = nt.cell("markdown", nt.badge_markdown("03_x.ipynb") + "\n\n# 03 · Title\n\nIntro.", "essentials")
    deep = nt.cell("markdown", "## 🟣 Maths\n\nThe integral.", "deep-dive")
    plain = nt.cell("markdown", "Some prose.", "practitioner")
    page = site.site_notebook(_notebook([title, deep, plain]))
    first, second, third = (c.source for c in page.cells)
    assert "colab.research.google.com" not in first and first.startswith("# 03 · Title\n\n")
    assert first.split("\n\n")[1] == '<div class="course-tier" data-tier="essentials"></div>'
    assert second.startswith(
        '## 🟣 Maths\n\n<div class="course-tier" data-tier="deep-dive"></div>\n\nThe integral.'
    )
    assert third == '<div class="course-tier" data-tier="practitioner"></div>\n\nSome prose.'


def test_site_notebook_leaves_the_original_alone():
    nb = _notebook([nt.cell("markdown", "# T", "essentials")])
    site.site_notebook(nb)
    assert nb.cells[0].source == "# T"


def test_site_notebook_collapses_solutions():
    code = nt.cell("code", "x = 1", "practitioner", "solution")
    other = nt.cell("code", "y = 2", "essentials")
    page = site.site_notebook(_notebook([code, other]))
    assert page.cells[0].metadata.tags == ["practitioner", "solution", "hide-input"]
    assert page.cells[1].metadata.tags == ["essentials"]


def test_site_notebook_makes_a_progress_bar_static():
    state = {
        "box": {
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]},
        },
        "left": {"model_name": "HTMLModel", "state": {"value": "explain: 100%"}},
        "bar": {"model_name": "FloatProgressModel", "state": {"value": 3, "max": 3}},
        "right": {"model_name": "HTMLModel", "state": {"value": " 3/3 [00:01&lt;00:00]"}},
    }
    code = nt.cell("code", "run()", "essentials")
    code.outputs = [_view("box")]
    page = site.site_notebook(_notebook([code], state))
    (out,) = page.cells[0].outputs
    assert site.WIDGET_VIEW not in out.data and "widgets" not in page.metadata
    assert out.data["text/html"] == (
        '<div class="course-progress">explain: 100%<progress value="3" max="3"></progress>'
        " 3/3 [00:01&lt;00:00]</div>"
    )


def test_site_notebook_replaces_an_interactive_widget_by_a_note():
    state = {
        "vbox": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_button"]}},
        "button": {"model_name": "ButtonModel", "state": {"description": "Explain"}},
    }
    code = nt.cell("code", "widgets.explorer(model, tokenizer)", "essentials")
    code.outputs = [_view("vbox")]
    (out,) = site.site_notebook(_notebook([code], state)).cells[0].outputs
    assert out.data["text/html"] == site.INTERACTIVE_NOTE
    assert "python -m course_utils explorer" in site.INTERACTIVE_NOTE


def test_site_notebook_points_output_links_to_the_pages():
    """Notebook 00 shows the cheat sheet (a docs page) as an output; the site renders outputs without resolving
    links, so each link to a notebook or docs page becomes the page's HTML file (a broken link otherwise)."""
    code = nt.cell("code", 'Markdown(doc_page("cheatsheet"))', "essentials")
    shown = nt.doc_page("cheatsheet")
    code.outputs = [
        nbformat.v4.new_output("display_data", data={"text/markdown": shown, "text/plain": "<Markdown>"}),
        nbformat.v4.new_output(
            "execute_result",
            data={
                "text/html": '<a href="../docs/glossary.md#baseline">b</a> <a href="02_fine_tuning.ipynb">02</a>'
            },
            execution_count=1,
        ),
    ]
    markdown, html = (o.data for o in site.site_notebook(_notebook([code])).cells[0].outputs)
    page = markdown["text/markdown"]
    assert "](../glossary.html)" in page and "](03_integrated_gradients.html)" in page
    assert ".ipynb)" not in page and ".md)" not in page and markdown["text/plain"] == "<Markdown>"
    assert (
        html["text/html"] == '<a href="../glossary.html#baseline">b</a> <a href="02_fine_tuning.html">02</a>'
    )
    assert code.outputs[0].data["text/markdown"] == shown  # the executed notebook itself is not changed


def test_site_notebook_rejects_a_non_notebook():
    with pytest.raises(TypeError, match="nb must be a notebook"):
        site.site_notebook({"cells": []})


def test_prepare_writes_sources_in_reading_order(tmp_path):
    require_site_extra("sphinx-mathjax-offline")
    executed = tmp_path / "build"
    executed.mkdir()
    for name in ("01_b.ipynb", "00_a.ipynb"):
        nbformat.write(_notebook([nt.cell("markdown", f"# {name}", "essentials")]), str(executed / name))
    (executed / "notes.ipynb").write_text("{}")  # not NN_name: not a page
    written = site.prepare(executed, tmp_path / "src")
    assert [p.name for p in written] == ["00_a.ipynb", "01_b.ipynb"]
    index = (tmp_path / "src" / "index.md").read_text()
    assert "notebooks/00_a\nnotebooks/01_b\n" in index and "glossary\ncheatsheet\n" in index
    assert (tmp_path / "src" / "_static" / "course-paths.js").exists()
    assert (tmp_path / "src" / "glossary.md").exists() and (tmp_path / "src" / "cheatsheet.md").exists()
    mathjax = tmp_path / "src" / "_static" / "mathjax"
    assert (mathjax / "tex-chtml.js").stat().st_size > 100_000 and (
        mathjax / "output" / "chtml" / "fonts"
    ).is_dir()
    assert not (mathjax / "sre").exists()  # only the parts the pages load
    conf = {}
    exec((tmp_path / "src" / "conf.py").read_text(), conf)
    assert conf["nb_execution_mode"] == "off" and conf["html_theme"] == "sphinx_book_theme"


def test_prepare_without_executed_notebooks_says_what_to_run(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m course_utils build"):
        site.prepare(tmp_path, tmp_path / "src")


def test_sphinx_conf_points_launch_buttons_at_the_repository():
    options = site.sphinx_conf("someone/fork", "teaching")["html_theme_options"]
    assert options["repository_url"] == "https://github.com/someone/fork"
    assert options["repository_branch"] == "teaching" and options["path_to_docs"] == ""
    assert options["launch_buttons"] == {"colab_url": "https://colab.research.google.com"}
    default = site.sphinx_conf()["html_theme_options"]
    assert (
        default["repository_url"] == f"https://github.com/{nt.REPO}"
        and default["repository_branch"] == nt.BRANCH
    )
