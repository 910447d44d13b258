"""Tests for course_utils.benchmarking: time, peak memory and paragraphs of a given length."""

import math
import sys

import pytest
import torch
from transformers import AutoTokenizer

from course_utils import benchmarking as B
from course_utils.models import PACKAGED, model_source

TEXTS = ["The state of our Union is strong.", "We will cut taxes for working families and create jobs."] * 20


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(model_source(PACKAGED))


def test_measure_returns_result_and_time():
    m = B.measure(lambda x, y=1: x + y, 2, y=3)
    assert m.result == 5 and m.seconds >= 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS reset needs Linux /proc")
def test_measure_sees_torch_allocations():
    m = B.measure(lambda: torch.ones(64 * 2**20 // 4).sum())  # a 64 MiB tensor, touched
    assert m.peak_mb > 40


def test_measure_small_call_has_small_peak():
    m = B.measure(lambda: 1)
    assert math.isnan(m.peak_mb) or m.peak_mb < 20


def test_measure_not_callable_raises():
    with pytest.raises(TypeError, match="callable"):
        B.measure(3)


@pytest.mark.parametrize("n", [8, 32, 100])
def test_paragraph_of_length_fits(tokenizer, n):
    text = B.paragraph_of_length(tokenizer, TEXTS, n)
    assert n - 2 <= len(tokenizer(text)["input_ids"]) <= n


@pytest.mark.parametrize(
    "n, error, match",
    [
        (2, ValueError, "n_tokens=2 is too small: use an integer ≥ 3"),
        (True, TypeError, "n_tokens must be an integer ≥ 3, got bool"),
        (10_000, ValueError, "fewer than"),
    ],
)
def test_paragraph_of_length_bad_input_raises(tokenizer, n, error, match):
    with pytest.raises(error, match=match):
        B.paragraph_of_length(tokenizer, TEXTS, n)


def test_test_paragraphs_are_the_first_of_the_test_split(capsys):
    from course_utils.models import ClassifierConfig

    tokenizer, model, texts = B.test_paragraphs(3)
    assert texts == ClassifierConfig().load_data().query("split == 'test'")["text"].tolist()[:3]
    assert model.config.num_labels == 2 and tokenizer(texts[0])["input_ids"][0] == tokenizer.cls_token_id
    assert capsys.readouterr().out.startswith("3 test paragraphs, ")


def test_test_paragraphs_continue_into_the_next_splits(capsys):
    from course_utils.models import ClassifierConfig

    data = ClassifierConfig().load_data()
    n_test = int((data["split"] == "test").sum())
    _, _, texts = B.test_paragraphs(n_test + 2, splits=("test", "validation"))
    assert texts[:n_test] == data.query("split == 'test'")["text"].tolist()
    assert texts[n_test:] == data.query("split == 'validation'")["text"].tolist()[:2]
    assert capsys.readouterr().out.startswith(f"{n_test + 2} test/validation paragraphs, ")
