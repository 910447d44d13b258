"""Tests for course_utils.data: deterministic paragraphs, whole-speech splits, clear errors."""

import pandas as pd
import pytest

from course_utils import data
from course_utils.data import LABELS, assign_splits, clean_paragraph, load_sotu


@pytest.fixture(scope="module")
def corpus() -> pd.DataFrame:
    return load_sotu()


def test_load_sotu_columns_and_labels(corpus):
    assert list(corpus.columns) == data.COLUMNS
    assert set(corpus["party"]) == set(LABELS)
    assert (corpus["label"] == corpus["party"].map(LABELS.index)).all()
    assert corpus["n_words"].between(10, 120).all()
    assert corpus["paragraph_id"].is_unique


def test_load_sotu_is_stable_across_calls(corpus):
    data._speeches.cache_clear()
    again = load_sotu()
    pd.testing.assert_frame_equal(corpus, again)


def test_load_sotu_no_speech_in_two_splits(corpus):
    splits_per_speech = corpus.groupby("speech_id")["split"].nunique()
    assert (splits_per_speech == 1).all()
    assert set(corpus["split"]) == {"train", "validation", "test"}


def test_load_sotu_every_split_has_both_parties(corpus):
    assert (corpus.groupby("split")["party"].nunique() == 2).all()


def test_assign_splits_depends_only_on_speech_ids():
    ids = pd.Series([f"{1950 + i}-X-1" for i in range(20)])
    parties = pd.Series(["Democratic"] * 10 + ["Republican"] * 10)
    first = assign_splits(ids, parties, (0.7, 0.15, 0.15))
    shuffled = assign_splits(
        ids[::-1].reset_index(drop=True), parties[::-1].reset_index(drop=True), (0.7, 0.15, 0.15)
    )
    assert first == shuffled


def test_assign_splits_known_assignment_is_machine_independent():
    # SHA-256 order is the same on every machine: pin a few assignments so a change of rule is noticed.
    corpus = load_sotu(since=1981)
    split = corpus.drop_duplicates("speech_id").set_index("speech_id")["split"]
    assert split.value_counts().to_dict() == {"train": 27, "validation": 6, "test": 6}
    assert split["2014-Obama-1"] == "test" and split["1982-Reagan-1"] == "test"


def test_spoken_only_drops_written_messages():
    both = load_sotu(since=1970)
    spoken = load_sotu(since=1970, spoken_only=True)
    assert (spoken["sotu_type"] == "spoken").all()
    assert (both["sotu_type"] == "written").any() and len(spoken) < len(both)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("The President. Thank you very much. [Applause]", "Thank you very much."),
        ("We will [Laughter] continue.", "We will continue."),
        ("the best [of] times", "the best of times"),
        ("Audience members. U.S.A.! U.S.A.!", ""),
        ("  spaced \n  out  ", "spaced out"),
        # lower-case stage directions inside interruptions (Obama/Biden transcripts) leave one dash
        ("Only the top 1—[applause]—yes, listen, the top 1.", "Only the top 1—yes, listen, the top 1."),
        ("how they deserve -- [applause] -- and what a tribute", "how they deserve—and what a tribute"),
        ("Well—[applause]. Michelle's partnership", "Well. Michelle's partnership"),
        ("My only agenda — [laughter] —everyone.", "My only agenda—everyone."),
        ("a dash — stays when nothing was cut", "a dash — stays when nothing was cut"),
    ],
)
def test_clean_paragraph_removes_transcript_markup(raw, expected):
    assert clean_paragraph(raw) == expected


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"since": 1700}, ValueError, r"since=1700 is outside the corpus: choose a year between 1790 and"),
        ({"since": 2000, "until": 1990}, ValueError, "swap them"),
        ({"since": "1990"}, TypeError, r"since must be an integer, got str .*\(a year\)"),
        ({"min_words": 50, "max_words": 10}, ValueError, "min_words <= max_words"),
        ({"since": 1790, "until": 1800}, ValueError, "no paragraph of 10-120 words"),
        ({"fractions": (0.5, 0.5, 0.5)}, ValueError, "summing to 1"),
    ],
)
def test_load_sotu_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_sotu(**kwargs)


def test_no_stage_direction_left_in_the_corpus():

    texts = load_sotu()["text"]
    left = texts[
        texts.str.contains(
            r"(?:—|--)\s*(?:applause|laughter)|(?:applause|laughter)\s*(?:—|--)", case=False, regex=True
        )
    ]
    assert left.empty, f"{len(left)} paragraphs keep an audience reaction, e.g. {left.iloc[0][:120]!r}"


def test_datasheet_reports_current_counts():
    from pathlib import Path

    sheet = (Path(__file__).resolve().parent.parent / "data" / "DATASHEET.md").read_text()
    from course_utils.course.datasheet import datasheet_counts

    assert datasheet_counts() in sheet, "data/DATASHEET.md is stale: paste `python -m course_utils datasheet`"


def test_datasheet_generator_moved_to_the_course_scaffolding():
    from course_utils.course import datasheet

    with pytest.warns(DeprecationWarning, match="moved to course_utils.course.datasheet"):
        namespace = {}
        exec("from course_utils.data import datasheet_counts", namespace)
    assert namespace["datasheet_counts"] is datasheet.datasheet_counts
