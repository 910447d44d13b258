"""The count tables of ``data/DATASHEET.md``: ``python -m course_utils datasheet`` prints them.

``tests/test_data.py`` checks that the datasheet contains exactly this text, so it cannot go stale. Course
scaffolding (issue 16): it reads the library's ``data.load_sotu`` and ``models.ClassifierConfig``; neither of
those imports it.
"""

from __future__ import annotations

import pandas as pd

from ..data import LABELS, SPLITS, load_sotu
from ..models import ClassifierConfig

__all__ = ["counts_markdown", "datasheet_counts"]


def counts_markdown(df: pd.DataFrame) -> str:
    """A Markdown table of paragraphs (speeches) per split and party, with the Republican share."""
    lines = ["| split | Democratic | Republican | Republican share |", "|---|---:|---:|---:|"]
    for split in SPLITS:
        part = df[df["split"] == split]
        cells = [
            f"{(part['party'] == p).sum():,} ({part.loc[part['party'] == p, 'speech_id'].nunique()})"
            for p in LABELS
        ]
        lines.append(f"| {split} | {cells[0]} | {cells[1]} | {(part['label'] == 1).mean():.3f} |")
    lines.append(
        f"| all | {(df['label'] == 0).sum():,} | {(df['label'] == 1).sum():,} | {(df['label'] == 1).mean():.3f} |"
    )
    return "\n".join(lines)


def datasheet_counts() -> str:
    """The count tables of ``data/DATASHEET.md``: the default ``load_sotu()`` and the classifier's corpus.

    ``tests/test_data.py`` checks that the datasheet contains exactly this text, so it cannot go stale.
    """
    config = ClassifierConfig()
    classifier_df = config.load_data()
    return (
        "### `load_sotu()` (1945 on, 10–120 words, spoken and written)\n\n"
        + counts_markdown(load_sotu())
        + f"\n\n### The default classifier's corpus (`ClassifierConfig()`: {config.since} on, "
        f"{config.min_words}–{config.max_words} words, spoken addresses only)\n\n"
        + counts_markdown(classifier_df)
    )
