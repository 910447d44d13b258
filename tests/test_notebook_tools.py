"""Tests for course_utils.notebook_tools' word counts and reading times (prose_words, path_words,
reading_minutes, reading_times): what counts as a word, paths as layers, argument checks."""

from __future__ import annotations

import nbformat
import pytest

from course_utils import notebook_tools as nt
from course_utils.notebook_tools import (
    WORDS_PER_MINUTE,
    path_words,
    prose_words,
    reading_minutes,
    reading_times,
)


@pytest.mark.parametrize(
    "markdown, words",
    [
        ("Integrated gradients adds up.", 4),
        ("## 🟢 3 · The path", 3),  # the mark and the dot are not words
        (
            "![IG path on a paragraph](../figures/ig_path.png) Read it left to right.",
            5,
        ),  # images count nothing
        ("See [notebook 03](03_integrated_gradients.ipynb).", 3),  # a link counts its text
        ('<img src="x.png" width=300> <!-- a note for authors --> Done.', 1),
        ("Scores sum to f(x) − f(x′), see https://example.org/ig.", 6),
        ("`explain(model, tokenizer, text)` returns a table", 6),  # code counts by its white-space pieces
        (nt.badge_markdown("03_x.ipynb"), 0),  # the Colab badge
        ("", 0),
    ],
)
def test_prose_words_counts_what_a_reader_reads(markdown, words):
    assert prose_words(markdown) == words


def test_prose_words_bad_type():
    with pytest.raises(TypeError, match="markdown must be a str"):
        prose_words(["text"])


def lesson() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nt.cell("markdown", "one two three", "essentials"),
        nt.cell("code", "# not prose: code cells are not counted\nx = 1", "essentials"),
        nt.cell("markdown", "four five", "practitioner"),
        nt.cell("markdown", "six", "deep-dive"),
        nt.cell("markdown", "untagged words here", "essentials"),
    ]
    nb.cells[-1].metadata["tags"] = []  # no tier: on no path
    for i, c in enumerate(nb.cells):
        c["id"] = f"cell-{i:03d}"
    return nb


def test_path_words_follows_the_layers():
    assert [path_words(lesson(), p) for p in nt.PATHS] == [3, 5, 6]


def test_reading_minutes_divides_words_by_the_reading_speed(tmp_path):
    assert WORDS_PER_MINUTE == 200
    assert reading_minutes(lesson(), "practitioner") == 5 / 200
    assert reading_minutes(lesson(), "deep-dive", words_per_minute=3) == 2.0
    nbformat.write(lesson(), str(tmp_path / "09_x.ipynb"))
    assert reading_minutes(tmp_path / "09_x.ipynb", "essentials") == 3 / 200  # a file works as well


def test_reading_minutes_finds_a_course_notebook_by_name():
    first = nt.notebooks()[0]
    by_path = reading_minutes(first, "essentials")
    assert by_path > 0 and reading_minutes(first.stem, "essentials") == by_path == reading_minutes(
        first.name, "essentials"
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"path": "expert"}, ValueError, "not one of"),
        ({"path": 1}, TypeError, "path must be a str"),
        ({"words_per_minute": True}, TypeError, "must be a number > 0, got bool"),
        ({"words_per_minute": "200"}, TypeError, "must be a number > 0, got str"),
        ({"words_per_minute": 0}, ValueError, "is too small: use a number > 0"),
        ({"notebook": "99_nowhere"}, FileNotFoundError, "no notebook"),
        ({"notebook": 3}, TypeError, "notebook must be"),
    ],
)
def test_reading_minutes_bad_arguments(kwargs, error, match):
    args = {"notebook": lesson(), "path": "essentials", **kwargs}
    with pytest.raises(error, match=match):
        reading_minutes(args.pop("notebook"), args.pop("path"), **args)


def test_reading_times_has_one_row_per_notebook_and_path(tmp_path):
    for name in ("00_a.ipynb", "01_b.ipynb"):
        nbformat.write(lesson(), str(tmp_path / name))
    table = reading_times(tmp_path)
    assert list(table.columns) == ["notebook", "path", "words", "minutes"]
    assert table["notebook"].tolist() == ["00_a"] * 3 + ["01_b"] * 3
    assert table["path"].tolist() == list(nt.PATHS) * 2 and table["words"].tolist() == [3, 5, 6] * 2
    assert table["minutes"].tolist() == [w / 200 for w in table["words"]]


def test_doc_page_makes_links_work_from_the_notebooks_folder(tmp_path, monkeypatch):
    page = "See the [glossary](glossary.md#ig), [03](../notebooks/03_x.ipynb), [web](https://a.org/b.md), [top](#t)."
    (tmp_path / "cheatsheet.md").write_text(page, encoding="utf-8")
    monkeypatch.setattr(nt, "docs_dir", lambda: tmp_path)
    assert nt.doc_page("cheatsheet") == (
        "See the [glossary](../docs/glossary.md#ig), [03](03_x.ipynb), [web](https://a.org/b.md), [top](#t)."
    )
    with pytest.raises(FileNotFoundError, match="no course page 'cheat'.*the pages are: cheatsheet"):
        nt.doc_page("cheat")


def test_doc_page_links_of_the_real_cheat_sheet_exist_from_notebooks():
    import re

    shown = nt.doc_page("cheatsheet")
    targets = re.findall(r"\]\(([^)#:]+\.(?:md|ipynb))", shown)
    assert len(targets) == 6  # 1 glossary + 5 notebook links (docs/cheatsheet.md)
    notebooks = nt.find_notebook_dir()
    assert all((notebooks / target).is_file() for target in targets), targets
