"""Atomic cache writes and the sweep of what a killed writer left (issue 18): a temporary names its writer
(host and process id), a later run removes those whose writer is gone and keeps those of a live writer."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from course_utils import _atomic
from course_utils._atomic import (
    FOREIGN_TEMPORARY_AGE,
    is_stale,
    remove_stale_temporaries,
    replace_file,
    temporary_path,
    write_atomically,
)

ROOT = Path(__file__).resolve().parent.parent

WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
from course_utils._atomic import write_atomically

def write(tmp):
    tmp.mkdir()
    (tmp / "part.parquet").write_bytes(b"x" * 1000)
    Path({flag!r}).write_text(str(tmp))
    time.sleep(600)  # killed here: inside the write, before the rename

write_atomically(Path({target!r}), write)
"""


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_temporary_names_its_host_and_process(tmp_path):
    path = temporary_path(tmp_path / "chunk-00001", suffix=".json")
    assert path.parent == tmp_path and path.name.startswith(".tmp-chunk-00001-") and path.suffix == ".json"
    assert _atomic._writer(path.name) == (_atomic._host(), os.getpid())
    assert temporary_path(tmp_path / "x") != temporary_path(tmp_path / "x")  # two writers never share one


def test_only_a_gone_writers_temporary_is_stale(tmp_path):
    host = _atomic._host()
    alive = tmp_path / f".tmp-chunk-00001-{host}-{os.getpid()}-0123abcd"
    dead = tmp_path / f".tmp-chunk-00002-{host}-{_dead_pid()}-0123abcd"
    foreign_new = tmp_path / ".tmp-chunk-00003-otherhost-12345-0123abcd"
    foreign_old = tmp_path / ".tmp-chunk-00004-otherhost-12345-0123abcd"
    legacy_old = tmp_path / ".tmp-chunk-00005-deadbeef"  # written by an older version: no writer recorded
    for path in (alive, dead, foreign_new, foreign_old, legacy_old):
        path.mkdir()
    old = time.time() - FOREIGN_TEMPORARY_AGE - 60
    for path in (foreign_old, legacy_old):
        os.utime(path, (old, old))
    assert [is_stale(p) for p in (alive, dead, foreign_new, foreign_old, legacy_old)] == [
        False,
        True,
        False,
        True,
        True,
    ]
    (tmp_path / "chunk-00001").mkdir()  # finished entries are never touched
    removed = remove_stale_temporaries(tmp_path)
    assert sorted(removed) == sorted([dead, foreign_old, legacy_old])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["chunk-00001", alive.name, foreign_new.name])


def test_the_sweep_is_silent_on_a_missing_folder(tmp_path):
    assert remove_stale_temporaries(tmp_path / "nowhere") == []


def test_a_writer_killed_mid_write_leaves_a_temporary_that_the_sweep_removes_once_it_is_dead(tmp_path):
    target, flag = tmp_path / "chunk-00007", tmp_path / "writing"
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT), flag=str(flag), target=str(target)))
    process = subprocess.Popen([sys.executable, str(script)])
    try:
        for _ in range(2400):  # polls for up to two minutes
            if flag.exists():
                break
            assert process.poll() is None, "the writer exited before it started writing"
            time.sleep(0.05)
        else:
            pytest.fail("the writer never started writing")
        tmp = Path(flag.read_text())
        assert remove_stale_temporaries(tmp_path) == [] and tmp.is_dir()  # a live writer keeps its temporary
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert not target.exists() and tmp.is_dir()  # SIGKILL: the writer's `finally` never ran
    assert remove_stale_temporaries(tmp_path) == [tmp] and list(tmp_path.glob(".tmp-*")) == []


def test_write_atomically_replaces_an_entry_without_leftovers(tmp_path):
    target = tmp_path / "entry"
    write_atomically(target, lambda tmp: (tmp.mkdir(), (tmp / "a.txt").write_text("old")))
    write_atomically(target, lambda tmp: (tmp.mkdir(), (tmp / "a.txt").write_text("new")))
    assert (target / "a.txt").read_text() == "new" and sorted(tmp_path.iterdir()) == [target]


def test_replace_file_interrupted_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "run.json"
    replace_file(path, lambda tmp: tmp.write_text("old"))

    def interrupted(tmp):
        tmp.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_file(path, interrupted)
    assert path.read_text() == "old" and sorted(tmp_path.iterdir()) == [path]


def test_replace_json_writes_sorted_indented_json_and_reprs_the_rest(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("old")
    _atomic.replace_json(path, {"b": Path("/x"), "a": [1, 2]})
    assert (
        path.read_text(encoding="utf-8") == '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "PosixPath(\'/x\')"\n}'
    )
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_explain_corpus_sweeps_a_dead_writers_chunk_temporary(tiny_classifier, tmp_path):
    import pandas as pd

    from course_utils import corpus

    tokenizer, model = tiny_classifier
    frame = pd.DataFrame({"paragraph_id": ["a", "b"], "text": ["the people", "our nation"]})

    def run():
        return corpus.explain_corpus(model, tokenizer, frame, folder=tmp_path, method="loo", progress=False)

    first = run()
    key_folder = Path(first.cache["folder"])
    assert first.cache["computed"] == 1
    left = key_folder / f".tmp-chunk-00000-{_atomic._host()}-{_dead_pid()}-0123abcd"
    left.mkdir()
    (left / "tokens.parquet").write_bytes(b"half")
    again = run()
    assert again.cache["loaded"] == 1 and not left.exists() and not list(key_folder.glob(".tmp-*"))
