"""Every notebook follows the course conventions (DESIGN.md): badge, setup cell, tier tags, clean storage,
heading marks that agree with the tier tags, and short essentials prose (issue 17)."""

import re
from pathlib import Path

import nbformat
import pytest

from course_utils.notebook_tools import (
    BADGE_RE,
    BRANCH,
    CHECK_MARKER,
    INSTALL_RE,
    PATHS,
    REPO,
    TIER_MARK,
    TIERS,
    WORDS_PER_MINUTE,
    badge_url,
    notebooks,
    path_words,
    reading_times,
    tier_of,
)

NOTEBOOKS = notebooks()
ids = [p.name for p in NOTEBOOKS]


def test_there_are_notebooks():
    assert NOTEBOOKS and NOTEBOOKS[0].name == "00_start_here.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_opens_with_colab_badge(path):
    nb = nbformat.read(str(path), as_version=4)
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert badge_url(path.name) in first.source, f"{path.name}: first cell must link {badge_url(path.name)}"
    for repo, branch, name in BADGE_RE.findall("\n".join(c.source for c in nb.cells)):
        assert (repo, branch) == (REPO, BRANCH) and name in {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_readme_links_every_notebook(path):
    readme = (path.parent.parent / "README.md").read_text(encoding="utf-8")
    assert badge_url(path.name) in readme, (
        f"README.md's notebook table must link {path.name} ({badge_url(path.name)})"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_first_code_cell_installs_in_colab_and_calls_setup(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cell"
    setup = code[0].source
    assert '"google.colab" in sys.modules' in setup and '"pip", "install"' in setup and "setup(" in setup
    assert "raise RuntimeError" in setup, (
        "a failed install must stop the cell (IPython carries on after `!pip`)"
    )
    assert INSTALL_RE.findall(setup) == [(REPO, BRANCH)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_every_cell_has_exactly_one_tier_tag(path):
    nb = nbformat.read(str(path), as_version=4)
    bad = [i for i, c in enumerate(nb.cells) if len(tier_of(c)) != 1]
    assert not bad, f"{path.name}: cells {bad} need exactly one of the tags {TIERS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code"
        and CHECK_MARKER not in c.source
        and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert not dirty, (
        f"{path.name}: cells {dirty} keep outputs; store notebooks clean (course_utils.notebook_tools.clean)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_nbval_markers_sit_inside_r_cells(path):
    nb = nbformat.read(str(path), as_version=4)
    for c in nb.cells:
        lines = c.source.splitlines()
        if any(line.startswith("%%R") for line in lines[1:]):
            pytest.fail(f"{path.name}: `%%R` must be the first line of its cell (nbval markers go on line 2)")


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00")], ids=ids[1:])
def test_lesson_has_summary_and_exercises(path):
    nb = nbformat.read(str(path), as_version=4)
    headings = [
        line
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("#")
    ]
    assert any(re.search(r"Summary", h) for h in headings), f"{path.name}: add a '## … Summary' section"
    assert any(re.search(r"Exercises", h) for h in headings), f"{path.name}: add a '## … Exercises' section"


# ------------------------------------------------------------------------------- reading paths as layers
ESSENTIALS_MAX_WORDS = 1500  #: the 🟢 cells alone tell a short story: at most about 1,500 words of prose
WORD_REPORT = Path(__file__).resolve().parent.parent / "build" / "essentials_words.txt"
_HEADING = re.compile(r"^ {0,3}(#{2,6})\s+\S")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def section_headings(markdown: str) -> list[str]:
    """The ``##``…``######`` heading lines of ``markdown``, outside fenced code blocks (titles ``#`` are not
    sections and carry no mark)."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and _HEADING.match(line):
            out.append(line)
    return out


def test_section_headings_reads_every_heading_line_outside_code():
    text = "## 🟢 One\ntext\n```\n## not a heading\n```\n### 🔵 Two\n# Title\n#hashtag\n   #### 🟣 Three"
    assert section_headings(text) == ["## 🟢 One", "### 🔵 Two", "   #### 🟣 Three"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_heading_marks_agree_with_tier_tags(path):
    """Every section heading (every one in a cell, not just the first) carries exactly one mark 🟢/🔵/🟣, the
    mark of its cell's tier tag: a 🔵 section is a practitioner cell, so the essentials path does not list it."""
    nb = nbformat.read(str(path), as_version=4)
    bad = []
    for i, c in enumerate(nb.cells):
        tiers = tier_of(c)
        if c.cell_type != "markdown" or len(tiers) != 1:  # a missing or double tier tag fails its own test
            continue
        for line in section_headings(c.source):
            marks = [tier for tier, mark in TIER_MARK.items() if mark in line]
            if marks != tiers:
                bad.append(f"cell {i} tagged {tiers[0]} ({TIER_MARK[tiers[0]]}): {line.strip()[:70]!r}")
    assert not bad, (
        f"{path.name}: {len(bad)} headings whose mark disagrees with their cell's tier tag (give the "
        "section its own cell, tagged like its mark):\n  " + "\n  ".join(bad)
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_essentials_prose_is_at_most_1500_words(path):
    words = path_words(path, "essentials")
    print(f"{path.stem}: {words} words of essentials prose")
    assert words <= ESSENTIALS_MAX_WORDS, (
        f"{path.name}: {words} words of prose in cells tagged essentials, at most "
        f"{ESSENTIALS_MAX_WORDS}: move long explanations down a tier (not out)"
    )


def word_report() -> str:
    """Words of prose and reading minutes per notebook and path, as a tab-separated table."""
    table = reading_times()
    words = table.pivot(index="notebook", columns="path", values="words")[list(PATHS)]
    minutes = table.pivot(index="notebook", columns="path", values="minutes")[list(PATHS)]
    lines = [
        f"# words of prose per reading path (course_utils.notebook_tools.path_words) and minutes at "
        f"{WORDS_PER_MINUTE} words a minute; essentials at most {ESSENTIALS_MAX_WORDS} words",
        "\t".join(
            ["notebook", *(f"{p}_words" for p in PATHS), *(f"{p}_minutes" for p in PATHS), "essentials_ok"]
        ),
    ]
    for name in words.index:
        lines.append(
            "\t".join(
                [
                    name,
                    *(str(words.loc[name, p]) for p in PATHS),
                    *(f"{minutes.loc[name, p]:.1f}" for p in PATHS),
                    "yes" if words.loc[name, "essentials"] <= ESSENTIALS_MAX_WORDS else "NO",
                ]
            )
        )
    lines.append(
        "\t".join(
            [
                "total",
                *(str(words[p].sum()) for p in PATHS),
                *(f"{minutes[p].sum():.1f}" for p in PATHS),
                "yes" if (words["essentials"] <= ESSENTIALS_MAX_WORDS).all() else "NO",
            ]
        )
    )
    return "\n".join(lines) + "\n"


def test_reading_path_words_are_printed_and_written(capsys):
    """Prints the words per notebook and path (also without ``-s``) and writes them to build/essentials_words.txt."""
    import pandas as pd

    text = word_report()
    WORD_REPORT.parent.mkdir(parents=True, exist_ok=True)
    WORD_REPORT.write_text(text, encoding="utf-8")
    with capsys.disabled():
        print(f"\n{text}(written to {WORD_REPORT})")
    back = pd.read_csv(WORD_REPORT, sep="\t", comment="#", index_col="notebook")
    assert list(back.index) == [p.stem for p in NOTEBOOKS] + ["total"]
    per_notebook = back.drop("total")
    for path in PATHS:
        assert per_notebook[f"{path}_words"].tolist() == [path_words(p, path) for p in NOTEBOOKS]
        assert back.loc["total", f"{path}_words"] == per_notebook[f"{path}_words"].sum()
    assert (per_notebook["essentials_words"] > 0).all(), "every notebook needs essentials prose"
    assert (per_notebook["essentials_words"] <= per_notebook["practitioner_words"]).all()  # paths are layers
    assert (per_notebook["practitioner_words"] <= per_notebook["deep-dive_words"]).all()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids)
def test_shows_output_tags_sit_on_code_cells(path):
    """`shows-output` marks a code cell whose output kept prose describes: the path copies keep it on every
    path (course_utils.instructor.path_copy). On a markdown cell it would keep nothing."""
    from course_utils.instructor import SHOWS_OUTPUT_TAG

    nb = nbformat.read(str(path), as_version=4)
    bad = [
        i
        for i, c in enumerate(nb.cells)
        if SHOWS_OUTPUT_TAG in c.metadata.get("tags", []) and c.cell_type != "code"
    ]
    assert not bad, f"{path.name}: cells {bad} are tagged {SHOWS_OUTPUT_TAG!r} but are not code cells"
