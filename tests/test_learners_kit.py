"""The learner's kit (issue 17): notebooks found after any install, reading times, glossary, cheat sheet,
objectives and check-yourself answers in notebooks 00-03."""

import re
from pathlib import Path

import nbformat
import pytest

from course_utils import notebook_tools as nt
from course_utils.instructor import SOLUTION_TAG

ROOT = Path(__file__).resolve().parent.parent
KIT_NOTEBOOKS = ["00_start_here", "01_bert_embeddings", "02_fine_tuning", "03_integrated_gradients"]


def _read(stem):
    return nbformat.read(str(ROOT / "notebooks" / f"{stem}.ipynb"), as_version=4)


def test_find_notebook_dir_from_the_repository_and_its_notebooks_folder(monkeypatch):
    monkeypatch.delenv("COURSE_NOTEBOOKS", raising=False)
    monkeypatch.chdir(ROOT)
    assert nt.find_notebook_dir() == (ROOT / "notebooks").resolve()
    monkeypatch.chdir(ROOT / "notebooks")
    assert nt.find_notebook_dir() == (ROOT / "notebooks").resolve()


def test_find_notebook_dir_after_a_non_editable_install(monkeypatch, tmp_path):
    """NOTEBOOK_DIR points into site-packages there: the notebooks are found from where they run."""
    monkeypatch.setattr(nt, "NOTEBOOK_DIR", tmp_path / "site-packages" / "notebooks")
    monkeypatch.delenv("COURSE_NOTEBOOKS", raising=False)
    monkeypatch.chdir(ROOT / "notebooks")
    assert nt.find_notebook_dir() == (ROOT / "notebooks").resolve()
    assert len(nt.reading_map()["notebook"].unique()) == len(nt.notebooks(ROOT / "notebooks"))
    monkeypatch.setenv("COURSE_NOTEBOOKS", str(ROOT / "notebooks"))
    monkeypatch.chdir(tmp_path)
    assert nt.find_notebook_dir() == (ROOT / "notebooks").resolve()


def test_find_notebook_dir_says_where_it_looked(monkeypatch, tmp_path):
    monkeypatch.setattr(nt, "NOTEBOOK_DIR", tmp_path / "site-packages" / "notebooks")
    monkeypatch.delenv("COURSE_NOTEBOOKS", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no course notebooks .* looked in: .*git clone"):
        nt.find_notebook_dir()
    with pytest.raises(FileNotFoundError, match="looked in"):
        nt.reading_map(tmp_path)


def test_reading_times_from_any_folder_after_a_non_editable_install(monkeypatch):
    """reading_times() finds the notebooks from where they are run (00's cell in notebooks/)."""
    monkeypatch.chdir(ROOT / "notebooks")
    times = nt.reading_times(words_per_minute=100)
    assert list(dict.fromkeys(times["notebook"])) == [p.stem for p in nt.notebooks(ROOT / "notebooks")]
    row = times[(times["notebook"] == "01_bert_embeddings") & (times["path"] == "essentials")].iloc[0]
    assert (
        row["words"] == nt.path_words(_read("01_bert_embeddings"), "essentials")
        and row["minutes"] == row["words"] / 100
    )


@pytest.mark.parametrize("stem", KIT_NOTEBOOKS)
def test_notebook_has_objectives_near_the_top(stem):
    cells = _read(stem).cells
    top = [c for c in cells[:4] if c.cell_type == "markdown"]
    assert any("Objectives and prerequisites" in c.source for c in top), (
        f"{stem}: add an objectives cell after the intro"
    )


@pytest.mark.parametrize("stem", KIT_NOTEBOOKS)
def test_check_yourself_has_two_or_three_answered_questions(stem):
    cells = _read(stem).cells
    start = next(
        i for i, c in enumerate(cells) if c.cell_type == "markdown" and "## 🟢 Check yourself" in c.source
    )
    block = []
    for c in cells[start:]:
        if block and c.cell_type == "markdown" and c.source.startswith("## "):
            break
        block.append(c)
    questions = [c for c in block if re.search(r"^\*\*\d\.\*\*", c.source, re.M)]
    answers = [c for c in block if SOLUTION_TAG in c.metadata.get("tags", [])]
    assert 2 <= len(questions) <= 3 and len(answers) == len(questions)
    assert all(c.source.startswith("*Answer.*") for c in answers)


@pytest.mark.parametrize("stem", KIT_NOTEBOOKS)
def test_notebook_links_the_glossary(stem):
    assert any("../docs/glossary.md" in c.source for c in _read(stem).cells if c.cell_type == "markdown")


def test_glossary_defines_the_course_terms_and_links_where_they_are_taught():
    text = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    for term in (
        "logit",
        "baseline",
        "completeness",
        "coalition",
        "AOPC",
        "WordPiece",
        "[CLS]",
        "attention",
        "fine-tuning",
        "path method",
    ):
        row = next((line for line in text.splitlines() if line.startswith(f"| **{term}")), None)
        assert row is not None, f"glossary misses {term!r}"
        assert re.search(r"\]\(\.\./notebooks/0\d_\w+\.ipynb\)", row), (
            f"glossary: {term!r} does not link a notebook"
        )
    for target in re.findall(r"\]\((\.\./notebooks/[\w.]+)\)", text):
        assert (ROOT / "docs" / target).resolve().exists(), target


def test_cheatsheet_compares_five_methods_and_is_linked():
    text = (ROOT / "docs" / "cheatsheet.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| **")]
    assert [r.split("**")[1] for r in rows] == [
        "Integrated gradients",
        "Leave-one-out",
        "AtMan",
        "SHAP",
        "LIME",
    ]
    header = next(line for line in text.splitlines() if line.startswith("| method"))
    for column in ("question", "units", "baseline", "cost per paragraph", "use it when"):
        assert column in header
    assert "docs/cheatsheet.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert any("cheatsheet.md" in c.source for c in _read("00_start_here").cells)
