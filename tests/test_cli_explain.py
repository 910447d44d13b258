"""Tests for the corpus command line ``python -m course_utils explain`` (course_utils/corpus_cli.py).

A tiny random BERT saved to a temporary folder and a CSV the tests write: the tables, run.json, resuming
(in-process and after Ctrl-C in a subprocess), new chunks for changed options, one-line errors with exit
code 2, the dry run, window mode and the default model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from process_support import ctrl_c_as_in_a_terminal

from course_utils.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    "We will cut taxes for working families.",
    "Our armed forces are the finest in the world.",
    "Health care is a right.",
    "The budget must be balanced.",
    "We thank our teachers tonight.",
    "Freedom is on the march.",
    "Let us build a better future together.",
]


@pytest.fixture(scope="module")
def model_dir(tiny_classifier, tmp_path_factory):
    tokenizer, model = tiny_classifier
    folder = tmp_path_factory.mktemp("tiny-model")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "speeches.csv"
    pd.DataFrame(
        {
            "id": [f"d{i}" for i in range(len(TEXTS))],
            "text": TEXTS,
            "party": ["Democratic", "Republican"] * 3 + ["Democratic"],
        }
    ).to_csv(path, index=False)
    return path


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))


def _explain(csv, model_dir, out, *extra):
    return main(
        [
            "explain",
            str(csv),
            "--model",
            str(model_dir),
            "--out",
            str(out),
            "--chunk-size",
            "3",
            "--option",
            "n_steps=4",
            "--no-progress",
            *extra,
        ]
    )


def test_explain_writes_the_tables_and_run_json(csv, model_dir, tmp_path, tiny_classifier):
    out = tmp_path / "out"
    assert _explain(csv, model_dir, out, "--metadata", "party") == 0
    tokens, words, docs = (pd.read_parquet(out / f"{n}.parquet") for n in ("tokens", "words", "documents"))
    tokenizer, _ = tiny_classifier
    lengths = [len(ids) for ids in tokenizer(TEXTS)["input_ids"]]
    assert tokens.groupby("doc_id", sort=False).size().tolist() == lengths  # every token, in file order
    assert docs["doc_id"].tolist() == [f"d{i}" for i in range(len(TEXTS))]
    assert {"completeness_error", "f_input", "n_steps", "total", "top5_share", "party"} <= set(docs.columns)
    assert set(words["doc_id"]) == set(docs["doc_id"]) and "party" in words
    assert not (out / "windows.parquet").exists()  # no document over the window
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == "ig" and run["options"]["n_steps"] == 4
    assert run["corpus"]["n_documents"] == len(TEXTS) and run["corpus"]["n_tokens"] == sum(lengths)
    assert run["model"]["fingerprint"]["class"] == "BertForSequenceClassification"
    assert run["chunks"] | {"folder": None, "key": None} == {
        "key": None,
        "folder": None,
        "loaded": 0,
        "computed": 3,
        "recomputed": 0,
        "chunk_size": 3,
    }
    assert run["versions"]["torch"] and all(
        k in run["timings"] for k in ("explain_seconds", "total_seconds", "started")
    )
    assert (out / "chunks" / run["chunks"]["key"] / "chunk-00002").is_dir()


def test_rerun_loads_every_chunk_and_a_changed_option_computes_new_ones(csv, model_dir, tmp_path):
    out = tmp_path / "out"
    assert _explain(csv, model_dir, out) == 0
    first = pd.read_parquet(out / "tokens.parquet")
    key = json.loads((out / "run.json").read_text())["chunks"]["key"]
    assert _explain(csv, model_dir, out) == 0
    again = json.loads((out / "run.json").read_text())["chunks"]
    assert (again["key"], again["loaded"], again["computed"]) == (key, 3, 0)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "tokens.parquet"), first)
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
                "3",
                "--option",
                "n_steps=5",
                "--no-progress",
            ]
        )
        == 0
    )  # another option: another key, nothing reused
    changed = json.loads((out / "run.json").read_text())["chunks"]
    assert changed["key"] != key and (changed["loaded"], changed["computed"]) == (0, 3)
    # changed data: one text edited → another key
    frame = pd.read_csv(csv)
    frame.loc[0, "text"] = "We will raise taxes."
    frame.to_csv(csv, index=False)
    assert _explain(csv, model_dir, out) == 0
    assert json.loads((out / "run.json").read_text())["chunks"]["key"] not in (key, changed["key"])


def _bad_inputs(tmp_path, csv, model_dir):
    from transformers import BertConfig, BertModel

    bare = tmp_path / "bare-bert"
    BertModel(
        BertConfig(
            vocab_size=100, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=8
        )
    ).save_pretrained(bare)
    (tmp_path / "empty.csv").write_text("id,text\n")
    (tmp_path / "blank.csv").write_text("id,text\n1,\n2,   \n")
    (tmp_path / "nothing.csv").write_text("")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "folder-without-config").mkdir()
    m = str(model_dir)
    return {
        "missing text column": ([str(csv), "--model", m, "--text-column", "body"], "has no column 'body'"),
        "missing id column": ([str(csv), "--model", m, "--id-column", "doc"], "has no column 'doc'"),
        "no such file": ([str(tmp_path / "absent.csv"), "--model", m], "no such file"),
        "unreadable parquet": ([str(tmp_path / "broken.parquet"), "--model", m], "cannot read"),
        "wrong file type": ([str(tmp_path / "notes.txt"), "--model", m], "expected a .csv or .parquet"),
        "empty corpus": ([str(tmp_path / "empty.csv"), "--model", m], "has no documents"),
        "blank texts only": ([str(tmp_path / "blank.csv"), "--model", m], "has no documents"),
        "empty file": ([str(tmp_path / "nothing.csv"), "--model", m], "is empty"),
        "not a classifier": ([str(csv), "--model", str(bare)], "not a sequence classifier"),
        "no config": ([str(csv), "--model", str(tmp_path / "folder-without-config")], "no config.json"),
        "unknown option": ([str(csv), "--model", m, "--option", "steps=3"], "not an option of ig"),
        "unknown target": ([str(csv), "--model", m, "--target", "Green"], "is not a label of this model"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing text column",
        "missing id column",
        "no such file",
        "unreadable parquet",
        "wrong file type",
        "empty corpus",
        "blank texts only",
        "empty file",
        "not a classifier",
        "no config",
        "unknown option",
        "unknown target",
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(case, csv, model_dir, tmp_path, capsys):
    argv, message = _bad_inputs(tmp_path, csv, model_dir)[case]
    capsys.readouterr()  # drop save_pretrained's progress output
    assert main(["explain", *argv, "--out", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_dry_run_counts_and_estimates_without_writing(csv, model_dir, tmp_path, capsys, tiny_classifier):
    tokenizer, _ = tiny_classifier
    out = tmp_path / "out"
    assert _explain(csv, model_dir, out, "--dry-run", "--sample", "2") == 0
    text = capsys.readouterr().out
    n_tokens = sum(len(ids) for ids in tokenizer(TEXTS)["input_ids"])
    assert f"{len(TEXTS)} documents, {n_tokens} tokens; 0 longer than 64 tokens" in text
    assert "measured" in text and "2 sample documents" in text and "estimated" in text
    assert not out.exists()


def test_long_documents_go_into_windows_and_say_so_once(csv, model_dir, tmp_path, capsys, tiny_classifier):
    tokenizer, _ = tiny_classifier
    frame = pd.read_csv(csv)
    frame.loc[1, "text"] = " ".join(TEXTS * 4)  # ≈ 150 tokens: three windows of 62 with stride 31
    frame.to_csv(csv, index=False)
    out = tmp_path / "out"
    assert _explain(csv, model_dir, out, "--stride", "31") == 0
    printed = capsys.readouterr().out
    assert printed.count("longer than the model's window") == 1 and "stride=31" in printed
    tokens = pd.read_parquet(out / "tokens.parquet")
    windows = pd.read_parquet(out / "windows.parquet")
    docs = pd.read_parquet(out / "documents.parquet")
    n_long = len(tokenizer(frame.loc[1, "text"])["input_ids"])
    assert (tokens["doc_id"] == "d1").sum() == n_long  # every token of the long document, once
    assert (
        windows["doc_id"].value_counts()["d1"] >= 3 and docs.set_index("doc_id").loc["d1", "n_windows"] >= 3
    )
    assert {"completeness_error", "probability", "start", "stop"} <= set(windows.columns)
    assert (docs.set_index("doc_id").drop(index="d1")["n_windows"] == 1).all()
    # the same corpus with --long truncate: one window per document, the long one's end gets no scores
    with pytest.warns(UserWarning, match="truncated"):
        assert _explain(csv, model_dir, tmp_path / "trunc", "--long", "truncate") == 0
    assert (pd.read_parquet(tmp_path / "trunc" / "tokens.parquet")["doc_id"] == "d1").sum() == 64


def test_default_model_is_the_course_classifier(csv, tiny_classifier, tmp_path, monkeypatch):
    from course_utils import models

    calls = []
    monkeypatch.setattr(
        models, "load_classifier", lambda name=None, **kw: calls.append(name) or tiny_classifier
    )
    out = tmp_path / "out"
    assert main(["explain", str(csv), "--out", str(out), "--option", "n_steps=4", "--no-progress"]) == 0
    assert calls == [None] and json.loads((out / "run.json").read_text())["model"]["model"].startswith(
        "load_classifier()"
    )


def test_resumes_after_ctrl_c_in_a_subprocess(csv, model_dir, tmp_path):
    """Ctrl-C (SIGINT) mid-run: exit code 130, only finished chunks on disk; the rerun loads them and gives
    the same tables as an uninterrupted run."""
    frame = pd.DataFrame(
        {"id": np.arange(40), "text": [TEXTS[i % len(TEXTS)] + f" Number {i}." for i in range(40)]}
    )
    frame.to_csv(csv, index=False)
    out = tmp_path / "out"
    argv = [
        sys.executable,
        "-m",
        "course_utils",
        "explain",
        str(csv),
        "--model",
        str(model_dir),
        "--out",
        str(out),
        "--chunk-size",
        "1",
        "--option",
        "n_steps=32",
        "--no-progress",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    # The interrupted run goes through tests/paced_cli.py: the same command, paced so the Ctrl-C lands mid-run
    # however slowly this test process is scheduled; the rerun is the plain command.
    paced = [sys.executable, str(ROOT / "tests" / "paced_cli.py"), *argv[3:]]
    proc = subprocess.Popen(
        paced,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=ctrl_c_as_in_a_terminal,
    )
    deadline = time.monotonic() + 300
    while not list(out.glob("chunks/*/chunk-00002")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted: " + proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run the same command again" in err
    chunks = list(out.glob("chunks/*/chunk-*"))
    assert 3 <= len(chunks) < 40 and not list(out.glob("chunks/*/.tmp-*"))
    assert not (out / "tokens.parquet").exists()

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    run = json.loads((out / "run.json").read_text())["chunks"]
    assert run["loaded"] == len(chunks) and run["computed"] == 40 - len(chunks)
    assert (
        main(
            [
                "explain",
                str(csv),
                "--model",
                str(model_dir),
                "--out",
                str(tmp_path / "fresh"),
                "--chunk-size",
                "1",
                "--option",
                "n_steps=32",
                "--no-progress",
            ]
        )
        == 0
    )
    for name in ("tokens", "words", "documents"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / f"{name}.parquet"), pd.read_parquet(tmp_path / "fresh" / f"{name}.parquet")
        )
