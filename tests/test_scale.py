"""Tests for course_utils.scale: explain_corpus(client=…) on a Dask LocalCluster of 2 single-threaded worker
processes — the same tables as in-process, the model sent once per worker, and a worker killed mid-run.

Needs the ``scale`` extra (dask, distributed): CI installs it with the ``dev`` extra, so these tests run there."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch
from process_support import pace_chunk_writes, unpace_chunk_writes

from course_utils import corpus

distributed = pytest.importorskip(
    "distributed", reason="the scale extra: pip install 'explaining-bert[scale]'"
)

TEXTS = [
    "We will cut taxes for working families.",
    "Our armed forces are the finest in the world.",
    "Health care is a right.",
    "The budget must be balanced.",
    "We thank our teachers tonight.",
    "Freedom is on the march.",
    "Let us build a better future together.",
    "Crime is down and jobs are up.",
]


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture
def frame():
    n = 12
    return pd.DataFrame(
        {
            "paragraph_id": [f"p{i:02d}" for i in range(n)],
            "text": [TEXTS[i % len(TEXTS)] + f" Point {i}." for i in range(n)],
        }
    )


def _in_process(model, tokenizer, frame, folder, **kw):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as on the single-threaded workers: the same float reductions
    try:
        return corpus.explain_corpus(model, tokenizer, frame, folder=folder, progress=False, **kw)
    finally:
        torch.set_num_threads(threads)


def _assert_same(a, b):
    pd.testing.assert_frame_equal(a.tokens, b.tokens)
    pd.testing.assert_frame_equal(a.documents, b.documents)


def test_dask_gives_the_in_process_tables(tiny_classifier, frame, client, tmp_path):
    tokenizer, model = tiny_classifier
    local = _in_process(model, tokenizer, frame, tmp_path / "local", chunk_size=3, n_steps=8)
    dask = corpus.explain_corpus(
        model,
        tokenizer,
        frame,
        folder=tmp_path / "dask",
        chunk_size=3,
        progress=False,
        client=client,
        n_steps=8,
    )
    _assert_same(dask, local)
    assert dask.cache["computed"] == 4 and dask.cache["key"] == local.cache["key"]
    # both workers did work, each with the model from the plugin (sent once per worker, not per task)
    name = f"explaining-bert-model-{corpus.model_fingerprint(model)['weights']}"
    holders = client.run(lambda dask_worker: name in dask_worker.plugins)
    assert list(holders.values()) == [True, True]
    again = corpus.explain_corpus(
        model,
        tokenizer,
        frame,
        folder=tmp_path / "dask",
        chunk_size=3,
        progress=False,
        client=client,
        n_steps=8,
    )
    assert (again.cache["loaded"], again.cache["computed"]) == (4, 0)
    _assert_same(again, local)


def test_dask_window_mode_matches_in_process(tiny_classifier, client, tmp_path):
    tokenizer, model = tiny_classifier
    frame = pd.DataFrame(
        {"paragraph_id": ["a", "b", "c"], "text": ["Short text.", " ".join(TEXTS * 4), "Another short text."]}
    )
    local = _in_process(model, tokenizer, frame, tmp_path / "local", chunk_size=1, method="loo")
    dask = corpus.explain_corpus(
        model,
        tokenizer,
        frame,
        folder=tmp_path / "dask",
        chunk_size=1,
        progress=False,
        client=client,
        method="loo",
    )
    _assert_same(dask, local)
    pd.testing.assert_frame_equal(dask.windows, local.windows)


def test_a_worker_killed_mid_run_loses_only_its_chunk(tiny_classifier, frame, client, tmp_path):
    tokenizer, model = tiny_classifier
    reference = _in_process(model, tokenizer, frame, tmp_path / "local", chunk_size=1, n_steps=48)
    pids = client.run(os.getpid)  # worker address → process id
    folder = tmp_path / "dask"
    killed = {}

    def kill_one_worker():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = list(folder.glob("*/chunk-*"))
            if len(done) >= 2:
                killed["chunks_then"] = len(done)
                os.kill(next(iter(pids.values())), signal.SIGKILL)
                killed["pid"] = True
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_worker)
    client.run(pace_chunk_writes, 0.25)  # the run outlasts any delay in starting the killer (process_support)
    killer.start()
    try:
        table = corpus.explain_corpus(
            model, tokenizer, frame, folder=folder, chunk_size=1, progress=False, client=client, n_steps=48
        )
    finally:
        client.run(unpace_chunk_writes)
    killer.join()
    assert killed.get("pid") and killed["chunks_then"] < len(frame)  # it died while chunks were still missing
    _assert_same(table, reference)
    assert table.cache["computed"] == len(frame) and not list(folder.glob("*/.tmp-*"))
    client.wait_for_workers(2, timeout=120)  # the nanny restarted it (the fixture's cluster stays usable)


def test_command_line_scheduler_gives_the_same_tables(tiny_classifier, client, tmp_path, monkeypatch):
    from course_utils.__main__ import main

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    tokenizer, model = tiny_classifier
    model_dir = tmp_path / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    csv = tmp_path / "corpus.csv"
    pd.DataFrame({"id": np.arange(6), "text": TEXTS[:6]}).to_csv(csv, index=False)
    common = [
        "explain",
        str(csv),
        "--model",
        str(model_dir),
        "--chunk-size",
        "2",
        "--option",
        "n_steps=8",
        "--no-progress",
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main([*common, "--out", str(tmp_path / "local")]) == 0
    finally:
        torch.set_num_threads(threads)
    assert main([*common, "--out", str(tmp_path / "dask"), "--scheduler", client.scheduler.address]) == 0
    for name in ("tokens", "words", "documents"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "dask" / f"{name}.parquet"),
            pd.read_parquet(tmp_path / "local" / f"{name}.parquet"),
        )
    import json

    run = json.loads((tmp_path / "dask" / "run.json").read_text())
    assert run["scale"]["scheduler"] == client.scheduler.address and run["chunks"]["computed"] == 3


def test_command_line_workers_starts_and_closes_a_local_cluster(tiny_classifier, tmp_path, monkeypatch):
    from course_utils.__main__ import main

    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    tokenizer, model = tiny_classifier
    model_dir = tmp_path / "model"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    csv = tmp_path / "corpus.csv"
    pd.DataFrame({"id": np.arange(3), "text": TEXTS[:3]}).to_csv(csv, index=False)
    out = tmp_path / "out"
    assert (
        main(
            [
                "explain",
                str(csv),
                "--model",
                str(model_dir),
                "--out",
                str(out),
                "--chunk-size",
                "1",
                "--method",
                "loo",
                "--workers",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    import json

    run = json.loads((out / "run.json").read_text())
    assert run["scale"]["workers"] == 1 and run["chunks"]["computed"] == 3
    assert pd.read_parquet(out / "documents.parquet")["doc_id"].tolist() == [0, 1, 2]


def test_model_plugin_pickles_a_model_that_recorded_attentions(tiny_classifier):
    """transformers leaves output-recording hooks (closures over a ContextVar) on a model once it has returned
    attentions; the plugin still travels to the workers, and the workers' copy computes the same logits."""
    import cloudpickle

    from course_utils.scale import ModelPlugin

    tokenizer, model = tiny_classifier
    batch = tokenizer(["the union is strong", "we the people"], return_tensors="pt", padding=True)
    with torch.no_grad():
        model(**batch, output_attentions=True)
        before = model(**batch).logits
    copy = cloudpickle.loads(cloudpickle.dumps(ModelPlugin(tokenizer, model)))
    assert copy.model is not model and not copy.model.training
    with torch.no_grad():
        assert torch.equal(copy.model(**batch).logits, before)


class _FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, param, value):
        self.calls.append((param, value))
        return 1


def test_tune_allocator_acts_only_on_dasks_trim_threshold():
    from course_utils import scale

    libc = _FakeLibc()
    assert not scale.tune_allocator(environ={}, libc=libc) and libc.calls == []
    tuned = scale.tune_allocator(environ={"MALLOC_TRIM_THRESHOLD_": "65536"}, libc=libc)
    assert tuned == sys.platform.startswith("linux")
    if tuned:  # the adaptive rule's end point: mmap above 32 MiB, trim above 64 MiB
        assert libc.calls == [(-3, 32 * 2**20), (-1, 64 * 2**20)]
    assert not scale.tune_allocator(environ={"MALLOC_TRIM_THRESHOLD_": "65536"}, libc=object())  # not glibc


def test_workers_get_the_allocator_torch_expects(tiny_classifier, client):
    """Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_ (which made a single-threaded worker about 35 %
    slower than the driver here); the model plugin sets glibc's thresholds back on every worker."""
    from course_utils.scale import ModelPlugin

    tokenizer, model = tiny_classifier
    client.register_plugin(ModelPlugin(tokenizer, model), name="allocator-check")
    environ = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    tuned = client.run(lambda dask_worker: dask_worker.plugins["allocator-check"].allocator_tuned)
    assert len(tuned) == 2
    for address, value in environ.items():
        assert tuned[address] == (value is not None and sys.platform.startswith("linux"))
