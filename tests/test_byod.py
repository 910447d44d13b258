"""course_utils.byod: read and check a CSV of labelled texts, split it, fine-tune briefly and explain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import byod

POSITIVE = ["a wonderful and moving film", "great acting and a clever plot", "I loved every minute of it",
            "a joy from start to finish", "brilliant, funny and warm", "the best film this year"]
NEGATIVE = ["a dull and boring mess", "terrible acting and no plot", "I hated every minute of it",
            "a waste of two hours", "clumsy, slow and joyless", "the worst film this year"]


@pytest.fixture
def csv_path(tmp_path):
    """A small balanced CSV (12 rows, labels positive/negative, an extra column) in a temporary folder."""
    df = pd.DataFrame({"text": POSITIVE + NEGATIVE, "label": ["positive"] * 6 + ["negative"] * 6,
                       "source": "test"})
    path = tmp_path / "reviews.csv"
    df.to_csv(path, index=False)
    return path


def write(tmp_path, text: str, name: str = "bad.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_reads_and_encodes_labels(csv_path):
    df = byod.load_csv(csv_path)
    assert len(df) == 12 and df.attrs["labels"] == ("negative", "positive")
    assert df["label"].dtype == np.int64 and set(df["label"]) == {0, 1}
    assert (df.loc[df["label_name"] == "positive", "label"] == 1).all()
    assert "source" in df.columns  # other columns are kept


def test_load_csv_other_column_names(tmp_path):
    path = write(tmp_path, "body,stance\nfirst text,a\nsecond text,b\nthird,a\nfourth,b\nfifth,a\nsixth,b\n")
    df = byod.load_csv(path, text_column="body", label_column="stance")
    assert list(df["text"][:2]) == ["first text", "second text"] and df.attrs["labels"] == ("a", "b")
    assert "body" not in df.columns and "stance" not in df.columns


def test_load_csv_integer_labels_keep_their_order(tmp_path):
    path = write(tmp_path, "text,label\n" + "".join(f"text {i},{i % 3}\n" for i in range(9)))
    df = byod.load_csv(path)
    assert df.attrs["labels"] == ("0", "1", "2")
    assert list(df["label"][:3]) == [0, 1, 2]


def test_load_csv_strips_texts(tmp_path):
    path = write(tmp_path, 'text,label\n"  padded text  ",a\nb,b\nc,a\nd,b\ne,a\nf,b\n')
    assert byod.load_csv(path)["text"].iloc[0] == "padded text"


BAD_FILES = [
    ("body,label\nx,a\n", ValueError, r"no column\(s\) \['text'\].*Rename"),
    ("text,label\n", ValueError, "no rows"),
    ("text,label\nx,a\n,b\ny,a\n", ValueError, r"empty 'text' \(CSV lines \[3\]\)"),
    ("text,label\nx,a\ny,\nz,a\n", ValueError, r"no 'label' \(CSV lines \[3\]\)"),
    ("text,label\nx,a\ny,a\nz,a\n", ValueError, "at least two labels"),
    ("text,label\nx,a\ny,a\nz,a\nw,b\n", ValueError, r"fewer than 3 rows"),
    ("text,label\nx,0.5\ny,1\nz,0\n", ValueError, "whole numbers"),
    ("", ValueError, "is empty"),
    ('text,label\n"unclosed,a\n', ValueError, "could not be read"),
]


@pytest.mark.parametrize("content,error,match", BAD_FILES)
def test_load_csv_bad_file_clear_error(tmp_path, content, error, match):
    with pytest.raises(error, match=match):
        byod.load_csv(write(tmp_path, content))


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CSV file"):
        byod.load_csv(tmp_path / "nope.csv")


def test_load_csv_wrong_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\xe9,a\nb,b\n".encode("latin-1"))
    with pytest.raises(ValueError, match="encoding='latin-1'"):
        byod.load_csv(path)


@pytest.mark.parametrize("path", [42, None])
def test_load_csv_path_type(path):
    with pytest.raises(TypeError, match="file path"):
        byod.load_csv(path)


def test_check_frame_rejects_non_frame():
    with pytest.raises(TypeError, match="DataFrame"):
        byod.check_frame([("text", "label")])


def test_split_is_stratified_and_deterministic(csv_path):
    df = byod.load_csv(csv_path)
    a, b = byod.split(df, seed=1), byod.split(df, seed=1)
    assert a["split"].tolist() == b["split"].tolist()
    for _, rows in a.groupby("label"):
        assert set(rows["split"]) == {"train", "validation", "test"}
    assert a.attrs["labels"] == df.attrs["labels"]


def test_split_keeps_an_existing_split(csv_path):
    df = byod.load_csv(csv_path)
    df["split"] = ["train"] * 8 + ["test"] * 4
    assert byod.split(df)["split"].tolist() == df["split"].tolist()


@pytest.mark.parametrize("change,options,match", [
    ({"split": "dev"}, {}, r"values \['dev'\]"),
    ({"split": "train"}, {}, "at least one 'train' and one 'test'"),
    ({}, {"test": 0}, "share between 0 and 1"),
    ({}, {"validation": 1.5}, "share between 0 and 1"),
    ({}, {"validation": 0.5, "test": 0.5}, "no training rows"),
])
def test_split_bad_input(csv_path, change, options, match):
    df = byod.load_csv(csv_path).assign(**change)
    with pytest.raises(ValueError, match=match):
        byod.split(df, **options)


def test_split_too_few_rows_per_label(tmp_path):
    df = byod.load_csv(write(tmp_path, "text,label\n" + "".join(f"t{i},{'ab'[i % 2]}\n" for i in range(8))))
    with pytest.raises(ValueError, match="only 4 rows: too few"):
        byod.split(df, validation=0.45, test=0.45)


def test_fine_tune_evaluate_explain_end_to_end(csv_path):
    data = byod.split(byod.load_csv(csv_path), seed=0)
    tokenizer, model, result = byod.fine_tune_csv(data, epochs=1, max_train=8, progress=False)
    assert model.config.id2label == {0: "negative", 1: "positive"}
    assert result.n_train == 8 and result.epochs == 1 and len(result.val_accuracy) == 1
    assert not model.training
    scores = byod.evaluate(model, tokenizer, data)
    assert scores["n"] == int((data["split"] == "test").sum()) and 0 <= scores["accuracy"] <= 1
    assert scores["majority"] == pytest.approx(0.5)
    table = byod.explain_rows(model, tokenizer, data, n=2, method="loo")
    assert table["doc_id"].nunique() == 2 and set(table["doc_id"]) <= set(data.index[data["split"] == "test"])
    assert set(table["target_label"]) <= {"negative", "positive"}


@pytest.mark.parametrize("call,match", [
    (lambda d: byod.fine_tune_csv(d.drop(columns="split")), "call byod.split"),
    (lambda d: byod.fine_tune_csv(d, max_train=1), "max_train"),
    (lambda d: byod.evaluate(None, None, d[d["split"] != "test"]), "no 'test' rows"),
    (lambda d: byod.explain_rows(None, None, d, n=0), "positive integer"),
])
def test_steps_bad_input(csv_path, call, match):
    data = byod.split(byod.load_csv(csv_path), seed=0)
    with pytest.raises(ValueError, match=match):
        call(data)


def test_write_example_csv_round_trips(tmp_path):
    path = byod.write_example_csv(tmp_path / "sub" / "example.csv", n=20, seed=3)
    df = byod.load_csv(path)
    assert len(df) == 20 and df.attrs["labels"] == ("Democratic", "Republican")
    assert (df["label_name"].value_counts() == 10).all()
    assert byod.write_example_csv(tmp_path / "again.csv", n=20, seed=3).read_text() == path.read_text()


def test_write_example_csv_bad_n(tmp_path):
    with pytest.raises(ValueError, match="at least 6"):
        byod.write_example_csv(tmp_path / "x.csv", n=2)
