"""Checking arguments: one home for the small ``check_*`` helpers the library's functions share.

Each helper validates one argument and returns it normalised (a Python ``int``/``float``, a list of
texts, …), or raises an error that names the argument, shows what was received (its ``repr`` and type),
says what is allowed and, where the caller passes a ``hint``, what to do. Wrong *type* → ``TypeError``;
right type but a bad *value* (out of range, not a known option) → ``ValueError``: the convention of
scikit-learn, whose ``sklearn.utils.check_scalar`` :func:`check_scalar` follows (``name``, ``target_type``,
``min_val``, ``max_val``, ``include_boundaries``).

- :func:`check_scalar`: a number (or string, or bool) of the wanted type, optionally within bounds.
  ``bool`` is a subclass of ``int`` in Python, so ``True`` would pass a plain ``isinstance(x, int)``: here
  it is rejected wherever a number is wanted. numpy scalars (``np.int64(3)``, ``np.float32(0.5)``) are
  accepted and returned as Python ``int``/``float``.
- :func:`check_positive_int`: the common case ``check_scalar(x, name, int, min_val=minimum)``.
- :func:`check_choice`: one of a fixed set of options (``level="token"``), with a "did you mean" for a
  near miss.
- :func:`check_texts`: one text or a list/Series of texts, as a list of strings (optionally sentence pairs).

Example::

    from course_utils._validation import check_choice, check_scalar

    def smooth(scores, width=3, mode="mean"):
        width = check_scalar(width, "width", int, min_val=1, hint="(tokens per window)")
        mode = check_choice(mode, "mode", ("mean", "max"))
        ...

    smooth(s, width=0)        # ValueError: width=0 is too small: use an integer ≥ 1 (tokens per window)
    smooth(s, width=True)     # TypeError: width must be an integer ≥ 1, got bool (True) (tokens per window)
    smooth(s, mode="maen")    # ValueError: mode='maen' is not supported; choose one of ['mean', 'max'];
                              #             did you mean 'mean'?

This module is library level: it imports nothing else of ``course_utils``, so every module may use it.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable, Mapping, Set

import numpy as np

__all__ = ["check_choice", "check_positive_int", "check_scalar", "check_texts"]

BOUNDARIES = ("both", "left", "right", "neither")


def _types(target_type) -> tuple[type, ...]:
    return tuple(target_type) if isinstance(target_type, tuple) else (target_type,)


def _describe(types: tuple[type, ...], min_val, max_val, include_boundaries: str) -> str:
    """What is allowed, in words: "an integer", "an integer ≥ 1", "a number in (0, 1]", "a string", …"""
    if bool in types and len(types) == 1:
        return "True or False"
    if int in types and not any(t in types for t in (float, numbers.Real)):
        noun, article = "integer", "an"
    elif any(t in types for t in (int, float, numbers.Real, numbers.Integral)):
        noun, article = "number", "a"
    elif str in types and len(types) == 1:
        return "a string"
    else:
        return " or ".join(t.__name__ for t in types)
    left_closed, right_closed = (
        include_boundaries in ("both", "left"),
        include_boundaries in ("both", "right"),
    )
    if min_val is not None and max_val is not None:
        left, right = "[" if left_closed else "(", "]" if right_closed else ")"
        return f"{article} {noun} in {left}{min_val}, {max_val}{right}"
    if min_val is not None:
        return f"{article} {noun} {'≥' if left_closed else '>'} {min_val}"
    if max_val is not None:
        return f"{article} {noun} {'≤' if right_closed else '<'} {max_val}"
    return f"{article} {noun}"


def _accepts(x, types: tuple[type, ...]) -> bool:
    """``isinstance`` with the numeric rules: no bool for numbers, numpy scalars count, an int is a number."""
    wants_bool = bool in types
    if isinstance(x, (bool, np.bool_)):
        return wants_bool
    if isinstance(x, (int, np.integer)) and any(
        t in types for t in (int, float, numbers.Real, numbers.Integral)
    ):
        return True
    if isinstance(x, (float, np.floating)) and any(t in types for t in (float, numbers.Real)):
        return True
    return isinstance(x, tuple(t for t in types if t is not bool))


def _normalise(x, types: tuple[type, ...]):
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return float(x) if float in types and int not in types else int(x)
    if isinstance(x, (float, np.floating)):
        return float(x)
    return x


def _with_hint(message: str, hint: str) -> str:
    if not hint:
        return message
    return message + (hint if hint[0] in ";:,." else " " + hint)


def check_scalar(
    x,
    name: str,
    target_type,
    *,
    min_val=None,
    max_val=None,
    include_boundaries: str = "both",
    allow_none: bool = False,
    finite: bool = False,
    hint: str = "",
):
    """``x`` checked to be a scalar of ``target_type`` within bounds, returned normalised.

    Args:
        x: the value to check.
        name: the argument's name, as the user wrote it (``"batch_size"``).
        target_type: a type or a tuple of types: ``int`` (Python or numpy integers, never bool), ``float`` or
            ``(int, float)`` (any real number, numpy included, never bool), ``bool``, ``str``, or any class.
        min_val, max_val: the bounds (None: unbounded on that side).
        include_boundaries: which bounds are allowed values: ``"both"`` (``[min, max]``), ``"left"``
            (``[min, max)``), ``"right"`` (``(min, max]``) or ``"neither"`` (``(min, max)``).
        allow_none: accept None (and return it).
        finite: reject NaN and ±inf.
        hint: appended to the error message: what the argument means or what to try
            (``"(LIME's default is 25)"``).

    Returns:
        ``x``, a numpy scalar turned into the Python ``int``/``float`` (an int into a float for ``float``).

    Raises:
        TypeError: ``x`` is not of ``target_type`` (a bool where a number is wanted), or None without
            ``allow_none``.
        ValueError: ``x`` lies outside the bounds, or is not finite with ``finite=True``.
    """
    if include_boundaries not in BOUNDARIES:
        raise ValueError(
            f"include_boundaries={include_boundaries!r} is not supported; choose one of {list(BOUNDARIES)}"
        )
    if x is None and allow_none:
        return None
    types = _types(target_type)
    expected = _describe(types, min_val, max_val, include_boundaries)
    if not _accepts(x, types):
        got = f"{type(x).__name__} ({x!r})"
        raise TypeError(
            _with_hint(f"{name} must be {expected}{' or None' if allow_none else ''}, got {got}", hint)
        )
    shown, x = repr(x.item() if isinstance(x, np.generic) else x), _normalise(x, types)
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        return x
    if finite and not math.isfinite(x):
        raise ValueError(_with_hint(f"{name}={shown} must be a finite number", hint))
    left_closed, right_closed = (
        include_boundaries in ("both", "left"),
        include_boundaries in ("both", "right"),
    )
    too_small = min_val is not None and not (x >= min_val if left_closed else x > min_val)
    too_large = max_val is not None and not (x <= max_val if right_closed else x < max_val)
    if not (too_small or too_large):
        return x
    if min_val is not None and max_val is not None:
        message = f"{name}={shown} must lie in {expected.rpartition(' in ')[2]}"
    else:
        message = f"{name}={shown} is too {'small' if too_small else 'large'}: use {expected}"
    raise ValueError(_with_hint(message, hint))


def check_positive_int(
    value, name: str, minimum: int = 1, *, allow_none: bool = False, hint: str = ""
) -> int:
    """``value`` as an int ≥ ``minimum``: ``check_scalar(value, name, int, min_val=minimum)``."""
    return check_scalar(value, name, int, min_val=minimum, allow_none=allow_none, hint=hint)


def check_choice(value, name: str, choices: Iterable, *, hint: str = ""):
    """``value`` if it is one of ``choices``, else a ValueError listing them (and "did you mean" for a typo).

    ``hint`` replaces the plain list when given, for options that need explaining
    (``"use 'token' (remove WordPieces) or 'word' (whole words)"``).
    """
    options = list(choices)
    try:
        known = any(value == option and type(value) is type(option) for option in options)
    except (TypeError, ValueError):  # an array compared with a string, …
        known = False
    if known:
        return value
    message = f"{name}={value!r} is not supported; {hint or f'choose one of {options}'}"
    if isinstance(value, str):
        folded = {o.casefold(): o for o in options if isinstance(o, str)}  # "IG" → 'ig'
        close = difflib.get_close_matches(value.casefold(), list(folded), n=1)
        if close:
            message += f"; did you mean {folded[close[0]]!r}?"
    raise ValueError(message)


def _is_pair(item) -> bool:
    return isinstance(item, tuple) and len(item) == 2 and all(isinstance(s, str) for s in item)


def check_texts(
    texts,
    name: str = "texts",
    *,
    allow_single: bool = True,
    allow_pairs: bool = False,
    allow_blank: bool = False,
    containers: tuple[type, ...] | None = None,
) -> list:
    """``texts`` as a list: its items strings (or, with ``allow_pairs``, ``(sentence A, sentence B)`` tuples).

    Args:
        texts: one ``str``; a list, tuple, pandas Series/Index, numpy array or other ordered iterable of them.
        allow_single: wrap one string into a list (False: a lone string is a TypeError, "wrap it: [texts]").
        allow_pairs: accept ``(str, str)`` pairs as items, and a lone pair as one item.
        allow_blank: accept empty or whitespace-only strings.
        containers: accept only these collection types (``explain`` takes list, tuple, Series and Index, not
            numpy arrays or generators); None: any ordered iterable.

    Raises:
        TypeError: ``texts`` is None, a DataFrame, a set/dict or another non-list; an item is missing
            (None/NaN) or not a string (or pair).
        ValueError: no texts; an item is empty or only whitespace (unless ``allow_blank``).
    """
    kind = "strings or (sentence A, sentence B) pairs" if allow_pairs else "strings"
    if isinstance(texts, str):
        if not allow_single:
            raise TypeError(f"{name} must be a list of {kind}, got one string; wrap it: [{name}]")
        items = [texts]
    elif allow_pairs and _is_pair(texts):
        items = [texts]
    elif type(texts).__name__ == "DataFrame":
        raise TypeError(f"{name} is a DataFrame; pass its text column, e.g. df['text']")
    elif isinstance(texts, (Set, Mapping)):
        raise TypeError(
            f"{name} is a {type(texts).__name__}, whose order is arbitrary: pass a list of {kind}"
        )
    elif isinstance(texts, containers or Iterable) and not isinstance(texts, (bytes, bytearray)):
        items = texts.tolist() if hasattr(texts, "tolist") else list(texts)
    else:
        one = "a string, " if allow_single else ""
        raise TypeError(
            f"{name} must be {one}a list/tuple of {kind} or a pandas Series, got {type(texts).__name__}"
        )
    if not items:
        raise ValueError(
            f"{name} is empty: give at least one text, e.g. ['The state of our union is strong.']"
        )
    for i, item in enumerate(items):
        if item is None or (isinstance(item, float) and math.isnan(item)):
            raise TypeError(
                f"{name}[{i}] is missing ({item!r}): drop it or fill it with a string "
                "(e.g. df.dropna(subset=['text']))"
            )
        if allow_pairs and _is_pair(item):
            parts = item
        elif isinstance(item, str):
            parts = (item,)
        else:
            what = "a string or a (str, str) pair" if allow_pairs else "a string"
            raise TypeError(
                f"{name}[{i}] is a {type(item).__name__} ({item!r}), not {what}: convert it with str() "
                "or drop it"
            )
        if not allow_blank and not all(s.strip() for s in parts):
            raise ValueError(
                f"{name}[{i}] is empty: every text needs at least one token (drop it or fill it)"
            )
    return items
