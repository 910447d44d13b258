"""Measure what an explanation costs: wall-clock time and peak memory (RSS) of one call.

Taught in notebook 04 (the cost of masking attribution vs integrated gradients); used by
``benchmarks/attribution_memory.py`` and notebook 05's runtime/memory table; :func:`test_paragraphs` gives the
speed benchmarks (``attribution_speed.py``, ``model_agnostic.py``) their shared setup.

Peak memory is the process's peak resident set size during the call minus its size just before, so torch's
CPU tensors count (``tracemalloc`` does not see them). On Linux (Colab included) the kernel's peak counter
is reset before the call (``/proc/self/clear_refs``) and freed heap memory is handed back first
(``malloc_trim``), so one process can measure several calls in a row. Elsewhere the memory is reported as
NaN. For isolated numbers run each call in a fresh process, as the benchmark script does.
"""

from __future__ import annotations

import ctypes
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._validation import check_scalar

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class Measurement:
    """``seconds`` of wall-clock time, ``peak_mb`` extra resident memory (MiB; NaN if unmeasurable), ``result``."""

    seconds: float
    peak_mb: float
    result: Any = None


def _status_kb(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _trim_heap() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter to the current RSS; False where that is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def measure(fn: Callable[..., Any], *args, **kwargs) -> Measurement:
    """Run ``fn(*args, **kwargs)`` once and return its time, peak extra memory and result.

    Returns:
        :class:`Measurement`; ``peak_mb`` is ``peak RSS during the call − RSS before`` in MiB, NaN where the
        peak counter cannot be reset (not Linux).
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    _trim_heap()
    before = _status_kb("VmRSS")
    can_reset = before is not None and reset_peak_rss()
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - start
    peak = _status_kb("VmHWM") if can_reset else None
    peak_mb = max(peak - before, 0) / 1024 if peak is not None else math.nan
    return Measurement(seconds, peak_mb, result)


def paragraph_of_length(tokenizer, texts, n_tokens: int) -> str:
    """``texts`` joined and cut so that the tokenizer turns the result into at most ``n_tokens`` tokens.

    Args:
        texts: strings to join (e.g. test paragraphs); they must hold at least ``n_tokens`` tokens together.
        n_tokens: target length including ``[CLS]`` and ``[SEP]`` (at least 3).

    Returns:
        a string of ``n_tokens`` tokens (a token or two fewer when decoding merged pieces).
    """
    check_scalar(n_tokens, "n_tokens", int, min_val=3, hint="([CLS], one token, [SEP])")
    ids = tokenizer(" ".join(texts), add_special_tokens=False)["input_ids"]
    if len(ids) < n_tokens - 2:
        raise ValueError(
            f"the texts hold only {len(ids)} tokens, fewer than the {n_tokens - 2} needed; pass more texts"
        )
    ids = ids[: n_tokens - 2]
    text = tokenizer.decode(ids)
    while len(tokenizer(text)["input_ids"]) > n_tokens:  # decoding can split a piece differently: trim to fit
        ids = ids[:-1]
        text = tokenizer.decode(ids)
    return text


def test_paragraphs(
    n: int, *, seed: int = 42, classifier=None, note: str = "", splits: tuple[str, ...] = ("test",)
):
    """The speed benchmarks' setup: ``(tokenizer, model, texts)`` — the course's cached classifier (or the
    ``(tokenizer, model)`` pair given as ``classifier``) and the first ``n`` paragraphs of the test split in their
    stored order (``splits``: of these splits, one after the other — e.g. ``("test", "validation", "train")``
    when ``n`` exceeds the test split's 186 paragraphs), with every seed set to ``seed``. Prints ``note``, how
    many paragraphs of which splits and tokens they have and the torch thread count, so a benchmark's output
    says what it measured."""
    import numpy as np
    import torch

    from .environment import seed_everything
    from .models import ClassifierConfig, load_classifier

    seed_everything(seed)
    tokenizer, model = classifier if classifier is not None else load_classifier(progress=False)
    data = ClassifierConfig().load_data()
    texts = [text for split in splits for text in data.loc[data["split"] == split, "text"]][:n]
    n_tokens = [len(ids) for ids in tokenizer(texts)["input_ids"]]
    print(
        f"{note}{len(texts)} {'/'.join(splits)} paragraphs, {np.mean(n_tokens):.1f} tokens on average "
        f"(max {max(n_tokens)}); torch threads {torch.get_num_threads()}"
    )
    return tokenizer, model, texts


test_paragraphs.__test__ = False  # a helper, not a pytest test
