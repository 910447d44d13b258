"""The shared argument checks of :mod:`course_utils._validation`: types, bounds, choices, texts, messages."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from course_utils._validation import check_choice, check_positive_int, check_scalar, check_texts


# ------------------------------------------------------------------------------------------- check_scalar
@pytest.mark.parametrize(
    "x, target_type, expected",
    [
        (3, int, 3),
        (np.int64(3), int, 3),
        (np.int8(-2), int, -2),
        (0.5, float, 0.5),
        (np.float32(0.5), float, 0.5),
        (2, float, 2.0),
        (np.int64(2), float, 2.0),
        (2, (int, float), 2),
        (2.5, (int, float), 2.5),
        (True, bool, True),
        (np.bool_(False), bool, False),
        ("mean", str, "mean"),
    ],
)
def test_accepts_and_normalises(x, target_type, expected):
    out = check_scalar(x, "x", target_type)
    assert out == expected and type(out) is type(expected)


@pytest.mark.parametrize(
    "x, target_type, match",
    [
        (True, int, r"^n must be an integer, got bool \(True\)$"),
        (np.bool_(True), int, r"^n must be an integer, got bool_? \(.*True_?\)$"),
        (False, float, r"^n must be a number, got bool \(False\)$"),
        (2.5, int, r"^n must be an integer, got float \(2\.5\)$"),
        ("3", int, r"^n must be an integer, got str \('3'\)$"),
        (None, int, r"^n must be an integer, got NoneType \(None\)$"),
        ("0.1", float, r"^n must be a number, got str \('0\.1'\)$"),
        (1, bool, r"^n must be True or False, got int \(1\)$"),
        (1, str, r"^n must be a string, got int \(1\)$"),
    ],
)
def test_wrong_type_is_a_type_error_naming_the_value_and_its_type(x, target_type, match):
    with pytest.raises(TypeError, match=match):
        check_scalar(x, "n", target_type)


def test_type_error_says_the_bounds_none_and_the_hint():
    with pytest.raises(
        TypeError, match=r"^batch_size must be an integer ≥ 1 or None, got bool \(True\) \(per batch\)$"
    ):
        check_scalar(True, "batch_size", int, min_val=1, allow_none=True, hint="(per batch)")
    with pytest.raises(TypeError, match=r"^level must be a number in \(0, 1\), got str"):
        check_scalar("high", "level", float, min_val=0, max_val=1, include_boundaries="neither")


@pytest.mark.parametrize(
    "boundaries, ok, bad, interval",
    [
        ("both", [0, 0.5, 1], [-0.1, 1.1], "[0, 1]"),
        ("left", [0, 0.5], [1, 1.1, -0.1], "[0, 1)"),
        ("right", [0.5, 1], [0, -0.1, 1.1], "(0, 1]"),
        ("neither", [0.5], [0, 1], "(0, 1)"),
    ],
)
def test_range_for_each_boundary_mode(boundaries, ok, bad, interval):
    for x in ok:
        assert check_scalar(x, "share", float, min_val=0, max_val=1, include_boundaries=boundaries) == x
    for x in bad:
        with pytest.raises(
            ValueError, match=f"^share={re.escape(repr(x))} must lie in {re.escape(interval)}$"
        ):
            check_scalar(x, "share", float, min_val=0, max_val=1, include_boundaries=boundaries)


@pytest.mark.parametrize(
    "kwargs, x, match",
    [
        ({"min_val": 1}, 0, r"^k=0 is too small: use an integer ≥ 1$"),
        ({"min_val": 0, "include_boundaries": "neither"}, 0, r"^k=0 is too small: use an integer > 0$"),
        ({"max_val": 10}, 11, r"^k=11 is too large: use an integer ≤ 10$"),
        ({"max_val": 10, "include_boundaries": "left"}, 10, r"^k=10 is too large: use an integer < 10$"),
        (
            {"min_val": 1, "hint": "(words per row)"},
            -3,
            r"^k=-3 is too small: use an integer ≥ 1 \(words per row\)$",
        ),
        ({"min_val": 1, "hint": "; try 5"}, 0, r"^k=0 is too small: use an integer ≥ 1; try 5$"),
    ],
)
def test_one_sided_bounds_say_too_small_or_too_large(kwargs, x, match):
    with pytest.raises(ValueError, match=match):
        check_scalar(x, "k", int, **kwargs)


def test_numpy_values_are_shown_as_plain_numbers():
    with pytest.raises(ValueError, match=r"^k=0 is too small"):
        check_scalar(np.int64(0), "k", int, min_val=1)
    assert type(check_scalar(np.int64(4), "k", int, min_val=1)) is int


def test_none_only_with_allow_none():
    assert check_scalar(None, "stride", int, min_val=1, allow_none=True) is None
    with pytest.raises(TypeError, match="stride must be an integer ≥ 1, got NoneType"):
        check_scalar(None, "stride", int, min_val=1)


def test_finite_rejects_nan_and_inf():
    for x in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="vmax=.* must be a finite number"):
            check_scalar(x, "vmax", float, finite=True)
    assert check_scalar(float("inf"), "vmax", float) == float("inf")
    with pytest.raises(ValueError, match="must lie in"):  # NaN fails any bound
        check_scalar(float("nan"), "share", float, min_val=0, max_val=1)


def test_bad_include_boundaries():
    with pytest.raises(ValueError, match="include_boundaries='open' is not supported"):
        check_scalar(1, "x", int, min_val=0, include_boundaries="open")


def test_check_positive_int():
    assert check_positive_int(np.int32(4), "max_evals", 4) == 4
    with pytest.raises(ValueError, match=r"^max_evals=3 is too small: use an integer ≥ 4$"):
        check_positive_int(3, "max_evals", 4)
    with pytest.raises(TypeError, match=r"^max_evals must be an integer ≥ 4, got bool"):
        check_positive_int(True, "max_evals", 4)
    assert check_positive_int(None, "n", allow_none=True) is None


# ------------------------------------------------------------------------------------------- check_choice
def test_choice_accepts_the_options_and_none_when_listed():
    assert check_choice("word", "level", ("token", "word")) == "word"
    assert check_choice(None, "normalize", (None, "l2")) is None


@pytest.mark.parametrize(
    "value, match",
    [
        ("sentence", r"^level='sentence' is not supported; choose one of \['token', 'word'\]$"),
        (
            "wrod",
            r"^level='wrod' is not supported; choose one of \['token', 'word'\]; did you mean 'word'\?$",
        ),
        ("Token", r"did you mean 'token'\?"),
        ("WORD", r"did you mean 'word'\?"),
        (None, r"^level=None is not supported"),
        (1, r"^level=1 is not supported"),
        (["token"], r"^level=\['token'\] is not supported"),
    ],
)
def test_choice_error_lists_the_options_and_suggests_a_near_miss(value, match):
    with pytest.raises(ValueError, match=match):
        check_choice(value, "level", ("token", "word"))


def test_choice_does_not_mix_up_bool_and_int_and_takes_a_hint():
    with pytest.raises(ValueError, match="batch=True is not supported"):
        check_choice(True, "batch", (1, 2))
    with pytest.raises(ValueError, match=r"^long='cut' is not supported; use 'window' or 'truncate'$"):
        check_choice("cut", "long", ("window", "truncate"), hint="use 'window' or 'truncate'")
    with pytest.raises(ValueError, match="choose one of"):
        check_choice(np.array([1, 2]), "x", ("a",))


# -------------------------------------------------------------------------------------------- check_texts
@pytest.mark.parametrize(
    "texts, expected",
    [
        ("one", ["one"]),
        (["a", "b"], ["a", "b"]),
        (("a", "b", "c"), ["a", "b", "c"]),
        (pd.Series(["a", "b"], index=[5, 7]), ["a", "b"]),
        (pd.Index(["a"]), ["a"]),
        (np.array(["a", "b"]), ["a", "b"]),
        ((t for t in ["a", "b"]), ["a", "b"]),
    ],
)
def test_texts_accepted_forms(texts, expected):
    assert check_texts(texts) == expected


@pytest.mark.parametrize(
    "texts, error, match",
    [
        (
            None,
            TypeError,
            r"^texts must be a string, a list/tuple of strings or a pandas Series, got NoneType$",
        ),
        (3, TypeError, "got int"),
        (b"bytes", TypeError, "got bytes"),
        (
            pd.DataFrame({"text": ["a"]}),
            TypeError,
            r"texts is a DataFrame; pass its text column, e.g. df\['text'\]",
        ),
        ({"a", "b"}, TypeError, "texts is a set, whose order is arbitrary: pass a list"),
        ({"a": 1}, TypeError, "texts is a dict"),
        ([], ValueError, r"^texts is empty: give at least one text"),
        (["ok", None], TypeError, r"texts\[1\] is missing \(None\): drop it or fill it"),
        (["ok", float("nan")], TypeError, r"texts\[1\] is missing \(nan\)"),
        (
            ["ok", 5],
            TypeError,
            r"texts\[1\] is a int \(5\), not a string: convert it with str\(\) or drop it",
        ),
        (["ok", "  "], ValueError, r"texts\[1\] is empty: every text needs at least one token"),
    ],
)
def test_texts_errors(texts, error, match):
    with pytest.raises(error, match=match):
        check_texts(texts)


def test_texts_containers_narrow_the_accepted_collections():
    assert check_texts(["a"], containers=(list, tuple)) == ["a"]
    assert check_texts("a", containers=(list,)) == ["a"]
    with pytest.raises(TypeError, match="got ndarray"):
        check_texts(np.array(["a"]), containers=(list, tuple))


def test_texts_options():
    with pytest.raises(
        TypeError, match=r"train_texts must be a list of strings, got one string; wrap it: \[train_texts\]"
    ):
        check_texts("one", "train_texts", allow_single=False)
    assert check_texts(["", "x"], allow_blank=True) == ["", "x"]
    assert check_texts(("A.", "B."), allow_pairs=True) == [("A.", "B.")]  # a lone pair is one item
    assert check_texts(("A.", "B.")) == ["A.", "B."]  # without pairs: two texts
    assert check_texts([("A.", "B."), "C."], allow_pairs=True) == [("A.", "B."), "C."]
    with pytest.raises(ValueError, match=r"texts\[0\] is empty"):
        check_texts([("A.", " ")], allow_pairs=True)
    with pytest.raises(TypeError, match=r"texts\[0\] is a list .*not a string or a \(str, str\) pair"):
        check_texts([["A.", "B."]], allow_pairs=True)


# ------------------------------------------------------------------------------------------ the callers
def test_former_copies_are_the_shared_helpers():
    """The old import paths still work and now reach the one implementation."""
    from course_utils.attribution import _words
    from course_utils.evaluation import _tables

    assert _words.check_positive_int is check_positive_int
    with pytest.raises(ValueError, match=r"^bins=0 is too small: use an integer ≥ 1$"):
        _tables.check_positive_int(0, "bins")
