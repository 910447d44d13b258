"""Helpers for tests that start a course command in a subprocess and stop it the way a user would."""

from __future__ import annotations

import signal


def ctrl_c_as_in_a_terminal() -> None:
    """``preexec_fn`` for a child that the test stops with SIGINT (what Ctrl-C sends).

    A shell starts background jobs with SIGINT ignored, and an ignored signal stays ignored across ``exec``:
    a ``make test &`` (or ``nohup``) would then start the command deaf to SIGINT, and it would run to the end
    instead of stopping. A terminal's foreground process has the default disposition; restore it.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def pace_chunk_writes(seconds: float) -> None:
    """Make every chunk that :func:`course_utils.corpus.explain_corpus` stores in this process take ``seconds``
    longer (a pause after the write; the chunk itself is unchanged).

    For tests that interrupt a run once some chunks exist (Ctrl-C, a killed Dask worker): with the tiny test
    model a whole run takes well under a second, so a test that is descheduled for that long on a busy machine
    would interrupt a run that has already finished. Run it in a subprocess (``tests/paced_cli.py``) or on
    every Dask worker (``client.run(pace_chunk_writes, 0.25)``); :func:`unpace_chunk_writes` undoes it.
    """
    import time

    from course_utils import corpus

    store = getattr(corpus, "_unpaced_store_chunk", corpus._store_chunk)
    corpus._unpaced_store_chunk = store

    def paced(*args, **kwargs) -> None:
        store(*args, **kwargs)
        time.sleep(seconds)

    corpus._store_chunk = paced


def unpace_chunk_writes() -> None:
    """Undo :func:`pace_chunk_writes` in this process (nothing to do if it was not paced)."""
    from course_utils import corpus

    if hasattr(corpus, "_unpaced_store_chunk"):
        corpus._store_chunk = corpus._unpaced_store_chunk
        del corpus._unpaced_store_chunk
