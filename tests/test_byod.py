"""course_utils.byod: read and check a CSV of labelled texts, split it, fine-tune briefly and explain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_utils import byod

POSITIVE = [
    "a wonderful and moving film",
    "great acting and a clever plot",
    "I loved every minute of it",
    "a joy from start to finish",
    "brilliant, funny and warm",
    "the best film this year",
]
NEGATIVE = [
    "a dull and boring mess",
    "terrible acting and no plot",
    "I hated every minute of it",
    "a waste of two hours",
    "clumsy, slow and joyless",
    "the worst film this year",
]


@pytest.fixture
def csv_path(tmp_path):
    """A small balanced CSV (12 rows, labels positive/negative, an extra column) in a temporary folder."""
    df = pd.DataFrame(
        {"text": POSITIVE + NEGATIVE, "label": ["positive"] * 6 + ["negative"] * 6, "source": "test"}
    )
    path = tmp_path / "reviews.csv"
    df.to_csv(path, index=False)
    return path


def write(tmp_path, text: str, name: str = "bad.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_reads_and_encodes_labels(csv_path):
    df = byod.load_csv(csv_path)
    assert len(df) == 12 and byod.labels(df) == ("negative", "positive")
    assert df["label"].dtype == np.int64 and set(df["label"]) == {0, 1}
    assert (df.loc[df["label_name"] == "positive", "label"] == 1).all()
    assert "source" in df.columns  # other columns are kept


def test_load_csv_other_column_names(tmp_path):
    path = write(tmp_path, "body,stance\nfirst text,a\nsecond text,b\nthird,a\nfourth,b\nfifth,a\nsixth,b\n")
    df = byod.load_csv(path, text_column="body", label_column="stance")
    assert list(df["text"][:2]) == ["first text", "second text"] and byod.labels(df) == ("a", "b")
    assert "body" not in df.columns and "stance" not in df.columns


def test_load_csv_integer_labels_keep_their_order(tmp_path):
    path = write(tmp_path, "text,label\n" + "".join(f"text {i},{i % 3}\n" for i in range(9)))
    df = byod.load_csv(path)
    assert byod.labels(df) == ("0", "1", "2")
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


def test_load_csv_wrong_encoding_suggests_windows_1252(tmp_path):
    path = tmp_path / "excel.csv"
    rows = "".join(f"\u201cquoted\u201d caf\u00e9 number {i} \u2013 fine,{'ab'[i % 2]}\n" for i in range(6))
    path.write_bytes(("text,label\n" + rows).encode("cp1252"))
    with pytest.raises(ValueError, match="encoding='cp1252'.*Not latin-1"):
        byod.load_csv(path)
    df = byod.load_csv(path, encoding="cp1252")
    assert (
        df["text"].iloc[0] == "\u201cquoted\u201d caf\u00e9 number 0 \u2013 fine"
    )  # the curly quotes survive


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
    assert byod.labels(a) == byod.labels(df)


def test_split_keeps_an_existing_split(csv_path):
    df = byod.load_csv(csv_path)
    df["split"] = ["train"] * 8 + ["test"] * 4
    assert byod.split(df)["split"].tolist() == df["split"].tolist()


@pytest.mark.parametrize(
    "change,options,match",
    [
        ({"split": "dev"}, {}, r"values \['dev'\]"),
        ({"split": "train"}, {}, "at least one 'train' and one 'test'"),
        ({}, {"test": 0}, "share between 0 and 1"),
        ({}, {"validation": 1.5}, "share between 0 and 1"),
        ({}, {"validation": 0.5, "test": 0.5}, "no training rows"),
    ],
)
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
    table = byod.explain_rows(model, tokenizer, data, n=2, method="loo").tokens
    assert table["doc_id"].nunique() == 2 and set(table["doc_id"]) <= set(data.index[data["split"] == "test"])
    assert set(table["target_label"]) <= {"negative", "positive"}


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda d: byod.fine_tune_csv(d.drop(columns="split")), "call byod.split"),
        (lambda d: byod.fine_tune_csv(d, max_train=1), "max_train"),
        (lambda d: byod.evaluate(None, None, d[d["split"] != "test"]), "no 'test' rows"),
        (lambda d: byod.explain_rows(None, None, d, n=0), "n=0 is too small: use an integer ≥ 1"),
    ],
)
def test_steps_bad_input(csv_path, call, match):
    data = byod.split(byod.load_csv(csv_path), seed=0)
    with pytest.raises(ValueError, match=match):
        call(data)


def test_write_example_csv_round_trips(tmp_path):
    path = byod.write_example_csv(tmp_path / "sub" / "example.csv", n=20, seed=3)
    df = byod.load_csv(path)
    assert len(df) == 20 and byod.labels(df) == ("Democratic", "Republican")
    assert (df["label_name"].value_counts() == 10).all()
    assert byod.write_example_csv(tmp_path / "again.csv", n=20, seed=3).read_text() == path.read_text()


def test_write_example_csv_bad_n(tmp_path):
    with pytest.raises(ValueError, match="n=2 is too small: use an integer ≥ 6"):
        byod.write_example_csv(tmp_path / "x.csv", n=2)


# ------------------------------------------------------------------------- the fault table (issue 18)
def _csv(tmp_path, rows, name="data.csv", **to_csv):
    path = tmp_path / name
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, index=False, **to_csv)
    return path


def _texts(n, prefix):
    return [f"{prefix} paragraph number {i} about policy" for i in range(n)]


@pytest.mark.parametrize(
    "extra,match",
    [
        (
            [("typo", "Republcan")] * 3,
            r"'Republcan' \(3 rows\) looks like a misspelling of 'Republican' \(10 rows\)",
        ),
        (
            [("lower", "democratic")] * 4,
            r"'Democratic' \(10 rows\) and 'democratic' \(4 rows\) differ only in case",
        ),
        (
            [("upper", "REPUBLICAN")] * 10,
            r"'REPUBLICAN' \(10 rows\) and 'Republican' \(10 rows\) differ only in case",
        ),
        ([("spaced", " Democratic ")] * 3, r"differ only in case"),
    ],
)
def test_load_csv_refuses_near_duplicate_labels(tmp_path, extra, match):
    rows = [(t, "Democratic") for t in _texts(10, "d")] + [(t, "Republican") for t in _texts(10, "r")]
    rows += [(f"{text} {i}", label) for i, (text, label) in enumerate(extra)]
    path = _csv(tmp_path, rows)
    if extra[0][1] == " Democratic ":  # labels are stripped: the spaced variant simply is Democratic
        assert byod.labels(byod.load_csv(path)) == ("Democratic", "Republican")
        return
    with pytest.raises(ValueError, match=match + r".*label_map=.*allow_similar_labels=True"):
        byod.load_csv(path)
    wrong = extra[0][1]
    merged = byod.load_csv(
        path,
        label_map={
            wrong: wrong.strip().capitalize()
            if wrong.islower()
            else {"Republcan": "Republican", "REPUBLICAN": "Republican"}[wrong]
        },
    )
    assert byod.labels(merged) == ("Democratic", "Republican")
    assert len(merged) == len(rows)
    kept = byod.load_csv(path, allow_similar_labels=True)
    assert len(byod.labels(kept)) == 3


def test_load_csv_distinct_labels_are_not_near_duplicates(tmp_path):
    rows = [(t, lab) for lab in ("positive", "negative", "neutral") for t in _texts(5, lab)]
    rows += [(t, "Democrat") for t in _texts(5, "x")] + [(t, "Democratic") for t in _texts(5, "y")]
    labels = byod.labels(byod.load_csv(_csv(tmp_path, rows)))
    assert labels == ("Democrat", "Democratic", "negative", "neutral", "positive")


def test_load_csv_bad_label_options(tmp_path):
    path = _csv(tmp_path, [(t, "ab"[i % 2]) for i, t in enumerate(_texts(6, "t"))])
    with pytest.raises(TypeError, match="allow_similar_labels must be True or False"):
        byod.load_csv(path, allow_similar_labels="yes")
    with pytest.raises(TypeError, match="label_map must be a dict"):
        byod.load_csv(path, label_map=[("a", "b")])


def test_duplicated_rows_warn_and_never_leak_across_splits(tmp_path):
    """45 distinct texts, each three times (the issue: 28 of 45 test texts were also in train)."""
    distinct = [(t, "Democratic") for t in _texts(23, "d")] + [(t, "Republican") for t in _texts(22, "r")]
    rows = distinct + [(t.upper(), lab) for t, lab in distinct] + [(f"  {t}  ", lab) for t, lab in distinct]
    with pytest.warns(UserWarning, match=r"45 text\(s\) occur more than once \(90 extra row\(s\).*one split"):
        df = byod.load_csv(_csv(tmp_path, rows))
    data = byod.split(df, seed=0)
    key = data["text"].str.casefold()
    assert (data.groupby(key)["split"].nunique() == 1).all()  # every copy in the same split
    assert set(data["split"]) == {"train", "validation", "test"}
    assert byod.split(df, seed=0)["split"].tolist() == data["split"].tolist()  # deterministic


def test_duplicated_texts_with_different_labels_warn(tmp_path):
    rows = [(t, "ab"[i % 2]) for i, t in enumerate(_texts(8, "t"))] + [
        ("the same text", "a"),
        ("the same text", "b"),
    ]
    with pytest.warns(UserWarning, match="1 of them carry different labels"):
        byod.load_csv(_csv(tmp_path, rows))


def test_split_without_duplicates_is_unchanged(csv_path):
    """Grouping copies changes nothing when every text is distinct (the notebooks' splits stay as they were)."""
    df = byod.load_csv(csv_path)
    rng = np.random.default_rng(5)
    expected = pd.Series("train", index=df.index)
    for _, rows in df.groupby("label", sort=True):
        idx = rng.permutation(rows.index.to_numpy())
        n_test, n_val = max(1, round(0.2 * len(idx))), max(1, round(0.2 * len(idx)))
        expected[idx[:n_test]], expected[idx[n_test : n_test + n_val]] = "test", "validation"
    assert byod.split(df, seed=5)["split"].tolist() == expected.tolist()


def test_own_split_with_leaked_texts_warns(csv_path):
    df = byod.load_csv(csv_path)
    df["split"] = ["train"] * 8 + ["test"] * 4
    df.loc[8, "text"] = df.loc[0, "text"]
    with pytest.warns(
        UserWarning, match=r"1 distinct text\(s\) of the validation/test rows \(1 rows\) also occur"
    ):
        byod.split(df)


def test_load_csv_line_numbers_count_blank_lines_and_multiline_texts(tmp_path):
    content = (
        "text,label\n"  # line 1
        '"a text\nover two lines",a\n'  # lines 2-3
        "\n"  # line 4 (blank: pandas skips it)
        "plain,b\n"  # line 5
        '"three\n\nlines",a\n'  # lines 6-8
        ",b\n"  # line 9: the empty text
        "more,a\n"
        "x,b\n"
    )
    with pytest.raises(ValueError, match=r"empty 'text' \(CSV lines \[9\]\)"):
        byod.load_csv(write(tmp_path, content))
    with pytest.raises(ValueError, match=r"no 'label' \(CSV lines \[5\]\)"):
        byod.load_csv(
            write(tmp_path, content.replace("plain,b", "plain,").replace(",b\nmore", "filled,b\nmore"))
        )


def test_check_frame_without_a_file_names_rows_not_lines():
    df = pd.DataFrame({"text": ["a", "", "c", "d"], "label": ["x", "y", "x", "y"]})
    with pytest.raises(ValueError, match=r"empty 'text' \(rows \[1\]\)"):
        byod.check_frame(df)


@pytest.mark.parametrize("sep", [";", "\t"])
def test_load_csv_other_separator_suggests_sep(tmp_path, sep):
    rows = [(t, "ab"[i % 2]) for i, t in enumerate(_texts(6, "t"))]
    path = _csv(tmp_path, rows, sep=sep)
    with pytest.raises(ValueError, match=re_escape(f"Pass sep={sep!r}")):
        byod.load_csv(path)
    assert len(byod.load_csv(path, sep=sep)) == 6


def re_escape(text):
    import re

    return re.escape(text)


def test_evaluate_and_validation_show_progress_on_big_inputs(tiny_classifier, monkeypatch, capsys):
    from course_utils import models

    tokenizer, model = tiny_classifier
    data = pd.DataFrame(
        {
            "text": _texts(12, "t"),
            "label": [0, 1] * 6,
            "label_name": ["Democratic", "Republican"] * 6,
            "split": ["train"] * 4 + ["validation"] * 4 + ["test"] * 4,
        }
    )
    byod.evaluate(model, tokenizer, data)
    assert "predict" not in capsys.readouterr().err  # small: no bar
    monkeypatch.setattr(byod, "BIG", 3)
    byod.evaluate(model, tokenizer, data)
    assert "predict" in capsys.readouterr().err
    monkeypatch.setattr(models, "VALIDATION_BAR", 3)
    import copy

    models.fine_tune(
        copy.deepcopy(model),
        tokenizer,
        data["text"][:4].tolist(),
        data["label"][:4].to_numpy(),
        epochs=1,
        batch_size=4,
        val_texts=data["text"][4:8].tolist(),
        val_labels=data["label"][4:8].to_numpy(),
        progress=True,
    )
    err = capsys.readouterr().err
    assert "fine-tuning" in err and "predict" in err
