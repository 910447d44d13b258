"""The fault suite for the classifier cache and the corpus cache (issue 18): nothing lost, nothing silently wrong.

Kills (SIGKILL) during training, during the save and in the middle of a corpus run; same-size damage to
weights, config and tokenizer; a load error that is not damage; concurrent fine-tunes; a read-only cache and a
file where the cache folder should be. Every case ends in a clear error naming what to do, or a correct
result. Tiny random models and a 'fine-tune' that only builds one: fast, and the weights do not matter.
"""

from __future__ import annotations

import builtins
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from course_utils import models
from course_utils.models import ClassifierConfig, DamagedCacheError, TrainingResult, load_classifier

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("Democratic", "Republican")


def tiny(vocab_size: int = 30522, seed: int = 0):
    """A seeded 2-layer random BERT classifier (the same weights in every process)."""
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
        id2label=dict(enumerate(LABELS)),
        label2id={lab: i for i, lab in enumerate(LABELS)},
        attn_implementation="eager",
    )
    return BertForSequenceClassification(config).eval()


@pytest.fixture
def cache(monkeypatch, tmp_path, packaged_tokenizer):
    """COURSE_CACHE in tmp_path and a 'fine-tune' that returns a tiny model; ``calls`` counts the fine-tunes."""
    root = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE", str(root))
    calls = []

    def train(config, progress=True):
        calls.append(config)
        return (
            packaged_tokenizer,
            tiny(len(packaged_tokenizer)),
            TrainingResult(seconds=0.1, n_train=3, epochs=1),
        )

    monkeypatch.setattr(models, "train_classifier", train)
    return root, calls


def _entry() -> Path:
    return models.classifier_dir(ClassifierConfig(epochs=1))


def _tensor_span(weights: Path, name: str) -> tuple[int, int]:
    """Byte offsets of tensor ``name`` inside a safetensors file (8-byte header length, JSON header, data)."""
    raw = weights.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    start, stop = json.loads(raw[8 : 8 + n])[name]["data_offsets"]
    return 8 + n + start, 8 + n + stop


def _overwrite(path: Path, start: int, data: bytes) -> None:
    raw = bytearray(path.read_bytes())
    raw[start : start + len(data)] = data
    path.write_bytes(bytes(raw))


def _random_over_head(folder):
    weights = folder / "model.safetensors"
    start, stop = _tensor_span(weights, "classifier.weight")
    _overwrite(weights, start, np.random.default_rng(0).bytes(stop - start))  # NaN/inf floats, same size


def _zeros_in_layer(folder):
    weights = folder / "model.safetensors"
    start, stop = _tensor_span(weights, "bert.encoder.layer.1.attention.self.query.weight")
    _overwrite(weights, start, bytes(stop - start))


def _swap_labels(folder):
    config = folder / "config.json"
    text = config.read_text()
    swapped = text.replace("Democratic", "@").replace("Republican", "Democratic").replace("@", "Republican")
    assert len(swapped) == len(text) and swapped != text
    config.write_text(swapped)


def _swap_vocab_ids(folder):
    path = folder / "tokenizer.json"
    text = path.read_text()
    vocab = json.loads(text)["model"]["vocab"]
    a, b = f'"tax": {vocab["tax"]}', f'"war": {vocab["war"]}'
    assert len(str(vocab["tax"])) == len(str(vocab["war"])) and a in text and b in text
    path.write_text(
        text.replace(a, "@A").replace(b, f'"war": {vocab["tax"]}').replace("@A", f'"tax": {vocab["war"]}')
    )


def _damage_header(folder):
    _overwrite(folder / "model.safetensors", 8, b"\xff" * 16)  # the JSON header: SafetensorError if loaded


def _break_json(folder):
    path = folder / "tokenizer_config.json"
    text = path.read_text()
    path.write_text("}" + text[1:])  # same size, not JSON


DAMAGE = {
    "random bytes over the head": _random_over_head,
    "zeros in a layer weight": _zeros_in_layer,
    "id2label swapped": _swap_labels,
    "two vocab ids swapped": _swap_vocab_ids,
    "damaged safetensors header": _damage_header,
    "damaged JSON": _break_json,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_same_size_damage_is_found_moved_aside_and_rebuilt(cache, capsys, damage):
    root, calls = cache
    _, model = load_classifier(epochs=1)
    reference = {k: v.clone() for k, v in model.state_dict().items()}  # (loaded weights may map the file)
    folder = _entry()
    size = {p.name: p.stat().st_size for p in folder.iterdir()}
    DAMAGE[damage](folder)
    assert {p.name: p.stat().st_size for p in folder.iterdir()} == size  # sizes alone cannot see it
    damaged = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(
        DamagedCacheError,
        match=r"is damaged: .*does not match its SHA-256.*left untouched.*"
        r"train_if_missing=True",
    ):
        load_classifier(epochs=1, train_if_missing=False)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == damaged  # not deleted, not changed
    capsys.readouterr()
    _, again = load_classifier(epochs=1)
    out = capsys.readouterr().out
    assert len(calls) == 2
    assert out.count("is damaged") == 1 and "does not match its SHA-256" in out and "rebuilding it" in out
    assert "no cached classifier" not in out
    aside = list(folder.parent.glob(f"{folder.name}.damaged-*"))
    assert (
        len(aside) == 1 and {p.name: p.read_bytes() for p in aside[0].iterdir()} == damaged
    )  # kept, as it was
    assert again.config.id2label == {0: "Democratic", 1: "Republican"}
    for name, b in again.state_dict().items():
        assert torch.equal(reference[name], b) and torch.isfinite(b).all()


def test_old_size_only_entry_is_moved_aside_and_rebuilt(cache, capsys):
    root, calls = cache
    load_classifier(epochs=1)
    folder = _entry()
    meta = json.loads((folder / models.META_FILE).read_text())
    meta["format"] = 1
    meta["files"] = {name: record["size"] for name, record in meta["files"].items()}
    (folder / models.META_FILE).write_text(json.dumps(meta))
    load_classifier(epochs=1)
    out = capsys.readouterr().out
    assert len(calls) == 2 and "recorded file sizes only, so it cannot be verified" in out
    assert len(list(folder.parent.glob(f"{folder.name}.damaged-*"))) == 1


@pytest.mark.parametrize("error", [MemoryError("out of memory"), OSError("unsupported by this transformers")])
def test_load_error_that_is_not_damage_propagates_and_deletes_nothing(cache, monkeypatch, error):
    from transformers import AutoModelForSequenceClassification

    root, calls = cache
    load_classifier(epochs=1)
    files = {p: p.read_bytes() for p in _entry().iterdir()}

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(AutoModelForSequenceClassification, "from_pretrained", fail)
    with pytest.raises(type(error), match=str(error)):
        load_classifier(epochs=1)
    assert {p: p.read_bytes() for p in _entry().iterdir()} == files and len(calls) == 1
    assert not list(_entry().parent.glob("*.damaged-*"))


def test_checksum_is_verified_on_every_load(cache, monkeypatch):
    root, calls = cache
    load_classifier(epochs=1)
    hashed = []
    real = models._sha256_file
    monkeypatch.setattr(models, "_sha256_file", lambda p: hashed.append(p.name) or real(p))
    load_classifier(epochs=1)
    meta = json.loads((_entry() / models.META_FILE).read_text())
    assert sorted(hashed) == sorted(meta["files"]) and "model.safetensors" in hashed and len(calls) == 1


def test_leftover_temporary_folders_are_cleaned_at_the_next_run(cache):
    root, calls = cache
    load_classifier(epochs=1)
    folder = _entry()
    saved = (folder / models.META_FILE).stat().st_mtime
    old = folder.parent / f".tmp-{folder.name}-deadbeef"
    old.mkdir()
    (old / "model.safetensors").write_bytes(b"x" * 1000)
    for p in (old / "model.safetensors", old):
        os.utime(p, (saved - 60, saved - 60))
    newer = folder.parent / f".tmp-{folder.name}-inflight"  # a save still running elsewhere: newer than ours
    newer.mkdir()
    os.utime(newer, (saved + 60, saved + 60))
    load_classifier(epochs=1)
    assert not old.exists() and newer.exists() and len(calls) == 1


# --------------------------------------------------------------------------- cache folder trouble
def test_file_instead_of_cache_folder_gives_a_clear_error(monkeypatch, tmp_path):
    (tmp_path / "cache").write_text("not a folder")
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(NotADirectoryError, match=r"is a file, not a folder.*COURSE_CACHE"):
        load_classifier(epochs=1)
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "ok"))
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "classifiers").write_text("in the way")
    with pytest.raises(NotADirectoryError, match=r"classifiers is a file, not a folder"):
        load_classifier(epochs=1)


@contextmanager
def read_only(root: Path):
    """Make ``root`` read-only: chmod for ordinary users; for root (who ignores modes) refuse every write
    under it the way a read-only mount does."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in [root, *root.rglob("*")]}
        for p in modes:
            p.chmod(modes[p] & ~0o222)
        try:
            yield
        finally:
            for p, mode in modes.items():
                p.chmod(mode)
        return
    inside = lambda path: str(Path(path).absolute()).startswith(str(root))  # noqa: E731
    denied = lambda path: PermissionError(13, "Permission denied", str(path))  # noqa: E731
    real_open, real_mkdir, real_replace = builtins.open, Path.mkdir, os.replace

    def guarded_open(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and inside(file) and set(mode) & set("wax+"):
            raise denied(file)
        return real_open(file, mode, *args, **kwargs)

    def guarded_mkdir(self, *args, **kwargs):
        if inside(self) and not self.is_dir():
            raise denied(self)
        return real_mkdir(self, *args, **kwargs)

    def guarded_replace(src, dst):
        if inside(src) or inside(dst):
            raise denied(dst)
        return real_replace(src, dst)

    builtins.open, Path.mkdir, os.replace = guarded_open, guarded_mkdir, guarded_replace
    try:
        yield
    finally:
        builtins.open, Path.mkdir, os.replace = real_open, real_mkdir, real_replace


def test_read_only_cache_with_a_valid_classifier_loads(cache):
    root, calls = cache
    _, model = load_classifier(epochs=1)
    listing = sorted((p.as_posix(), p.stat().st_mtime_ns) for p in root.rglob("*"))
    with read_only(root):
        _, again = load_classifier(epochs=1)
        with pytest.raises(
            PermissionError, match=r"read-only .*is missing.*Set COURSE_CACHE to a folder you can write"
        ):
            load_classifier(epochs=2)
    assert sorted((p.as_posix(), p.stat().st_mtime_ns) for p in root.rglob("*")) == listing  # nothing written
    assert len(calls) == 1 and again.config.id2label == model.config.id2label


def test_read_only_cache_with_a_damaged_classifier_says_so(cache):
    root, calls = cache
    load_classifier(epochs=1)
    _zeros_in_layer(_entry())
    with read_only(root):
        with pytest.raises(
            PermissionError, match=r"read-only .*is damaged \(model.safetensors does not match"
        ):
            load_classifier(epochs=1)
    assert (_entry() / "model.safetensors").is_file() and len(calls) == 1


# ------------------------------------------------------------------------------------- processes
SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_models_faults import tiny
    from transformers import AutoTokenizer
    from course_utils import models

    role, flags = sys.argv[1], Path(sys.argv[2])

    def train(config, progress=True):
        with open(flags / "train-calls", "a") as f:
            f.write(role + "\\n")
        (flags / f"{{role}}-training").touch()
        if role == "hang-in-training":
            time.sleep(600)
        while role == "first" and not (flags / "go").exists():
            time.sleep(0.05)
        tok = AutoTokenizer.from_pretrained(models.model_source(None))
        return tok, tiny(len(tok)), models.TrainingResult(seconds=0.1, n_train=3, epochs=1)

    real_save = models._save_classifier

    def save(tmp, *args):
        real_save(tmp, *args)
        if role == "hang-in-save":
            (flags / "saved-to-tmp").touch()
            time.sleep(600)

    models.train_classifier, models._save_classifier = train, save
    tok, model = models.load_classifier(epochs=1)
    print("loaded", model.config.id2label, flush=True)
""")


def _start(tmp_path, role, cache_root):
    script = tmp_path / "worker.py"
    script.write_text(SCRIPT.format(tests=str(ROOT / "tests")))
    env = {**os.environ, "COURSE_CACHE": str(cache_root), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = open(tmp_path / f"{role}.out", "w")
    return subprocess.Popen(
        [sys.executable, str(script), role, str(tmp_path)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _wait_for(path: Path, process, what: str, polls: int = 3000):
    """Poll (every 0.1 s, up to ``polls`` times) until ``path`` exists; fail with the worker's output if it died."""
    for _ in range(polls):
        if path.exists():
            return
        if process.poll() is not None:
            pytest.fail(f"the worker exited before {what}: {process.args}")
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"the worker never reached {what}")


def _kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_kill_during_training_leaves_nothing_and_next_run_trains(cache, tmp_path):
    root, calls = cache
    worker = _start(tmp_path, "hang-in-training", root)
    _wait_for(tmp_path / "hang-in-training-training", worker, "training")
    _kill(worker)
    folder = _entry()
    assert not folder.exists() and not list(folder.parent.glob(".tmp-*"))
    _, model = load_classifier(epochs=1)  # the dead process's lock is gone with it
    assert len(calls) == 1 and model.config.id2label == {0: "Democratic", 1: "Republican"}


def test_kill_during_the_save_leaves_a_temporary_folder_that_the_next_run_removes(cache, tmp_path):
    root, calls = cache
    worker = _start(tmp_path, "hang-in-save", root)
    _wait_for(tmp_path / "saved-to-tmp", worker, "the save")
    _kill(worker)
    folder = _entry()
    left = list(folder.parent.glob(f".tmp-{folder.name}-*"))
    assert not folder.exists() and len(left) == 1 and (left[0] / "model.safetensors").is_file()
    time.sleep(0.05)  # let the file-system clock move past the leftover's time stamp
    load_classifier(epochs=1)
    assert len(calls) == 1 and models._check_entry(folder, ClassifierConfig(epochs=1))[0] is not None
    assert not left[0].exists()


def test_concurrent_fine_tunes_train_once_and_the_second_says_it_waits(cache, tmp_path):
    root, calls = cache
    first = _start(tmp_path, "first", root)
    _wait_for(tmp_path / "first-training", first, "training")
    second = _start(tmp_path, "second", root)
    for _ in range(3000):  # until the second process reports that it waits on the lock
        if (
            "another process is fine-tuning this classifier; waiting"
            in (tmp_path / "second.out").read_text().lower()
        ):
            break
        assert second.poll() is None, (tmp_path / "second.out").read_text()
        time.sleep(0.1)
    (tmp_path / "go").touch()
    assert first.wait(300) == 0 and second.wait(300) == 0
    outputs = [(tmp_path / f"{r}.out").read_text() for r in ("first", "second")]
    assert (tmp_path / "train-calls").read_text().split() == ["first"]  # one fine-tune for both
    assert all("loaded {0: 'Democratic', 1: 'Republican'}" in out for out in outputs)
    assert outputs[1].lower().count("another process is fine-tuning this classifier; waiting") == 1


# --------------------------------------------------------------------------------------- the corpus
CORPUS_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from test_models_faults import corpus_inputs
    from course_utils import corpus

    flags = Path(sys.argv[1])
    real = corpus._explain_chunk

    def slow(*args, **kwargs):
        if args[3] >= 6:  # rows 6.. : the third chunk never finishes
            (flags / "in-third-chunk").touch()
            time.sleep(600)
        return real(*args, **kwargs)

    corpus._explain_chunk = slow
    tokenizer, model, frame = corpus_inputs()
    corpus.explain_corpus(model, tokenizer, frame, chunk_size=3, progress=False, n_steps=4)
""")


def corpus_inputs():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(models.model_source(None))
    texts = [f"Paragraph {i}: we will cut taxes and build schools." for i in range(10)]
    return (
        tokenizer,
        tiny(len(tokenizer)),
        pd.DataFrame({"text": texts, "paragraph_id": [f"p{i}" for i in range(10)]}),
    )


def test_corpus_killed_mid_run_resumes_with_identical_results(monkeypatch, tmp_path):
    from course_utils import corpus

    root = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE", str(root))
    script = tmp_path / "corpus_worker.py"
    script.write_text(CORPUS_SCRIPT.format(tests=str(ROOT / "tests")))
    env = {**os.environ, "COURSE_CACHE": str(root), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    worker = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(tmp_path / "in-third-chunk", worker, "the third chunk")
    _kill(worker)
    tokenizer, model, frame = corpus_inputs()
    resumed = corpus.explain_corpus(model, tokenizer, frame, chunk_size=3, progress=False, n_steps=4)
    assert resumed.cache["loaded"] == 2 and resumed.cache["computed"] == 2
    fresh = corpus.explain_corpus(
        model, tokenizer, frame, chunk_size=3, progress=False, n_steps=4, cache=False
    )
    # bit-identical
    np.testing.assert_array_equal(resumed.tokens["score"].to_numpy(), fresh.tokens["score"].to_numpy())
    assert not list(Path(resumed.cache["folder"]).glob(".tmp-*"))


def test_corpus_read_only_cache_loads_every_chunk(monkeypatch, tmp_path):
    from course_utils import corpus

    root = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE", str(root))
    tokenizer, model, frame = corpus_inputs()
    first = corpus.explain_corpus(model, tokenizer, frame, chunk_size=3, progress=False, n_steps=4)
    with read_only(root):
        again = corpus.explain_corpus(model, tokenizer, frame, chunk_size=3, progress=False, n_steps=4)
    assert again.cache["loaded"] == 4
    pd.testing.assert_frame_equal(first.tokens, again.tokens)
