"""What an explanation costs: time per document, forward/backward passes and peak memory, per method.

Measured in the running process on a small sample, so the numbers are indicative (other programs share the
CPU). ``benchmarks/attribution_memory.py`` measures each method in a fresh process over text lengths.

Peak memory is, by default, the rise of the process's resident memory during the call
(:func:`course_utils.benchmarking.measure`, as in notebook 04 and the benchmarks); ``memory="torch"`` counts
torch's own tensor memory instead (:func:`measure_peak_memory`: torch's profiler on the CPU,
``torch.cuda.max_memory_allocated`` on a GPU), which is deterministic and leaves out the allocator's slack.

Taught in notebook 05 (evaluating explanations).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from .._validation import check_choice
from ..attribution import explain


def measure_peak_memory(fn: Callable[[], object], device: torch.device | None = None) -> tuple[object, float]:
    """Call ``fn()`` and return ``(its result, peak tensor memory in MB)`` — memory allocated by torch
    during the call above what was allocated before it.

    On a GPU: ``torch.cuda.max_memory_allocated``. On the CPU: torch's profiler with
    ``profile_memory=True`` records every allocation (on the operator that made it) and every free; the
    running sum over time peaks at the answer. Allocations outside torch (Python objects) are not counted.
    """
    if device is not None and device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        result = fn()
        return result, (torch.cuda.max_memory_allocated(device) - before) / 2**20
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn()
    deltas = []
    for (
        event
    ) in prof.events():  # frees outside an operator are "[memory]" events; operators carry their own net
        delta = event.cpu_memory_usage if event.name == "[memory]" else event.self_cpu_memory_usage
        if delta:
            deltas.append((event.time_range.start, delta))
    deltas.sort(key=lambda item: item[0])
    running = np.cumsum([d for _, d in deltas]) if deltas else np.zeros(1)
    return result, max(0.0, float(running.max())) / 2**20


def _backward_passes(method: str, documents: pd.DataFrame) -> np.ndarray:
    """Backward passes per document: IG differentiates each of its quadrature points once (its ``n_steps``
    diagnostic; ``forward_passes`` adds the forward-only passes: auto mode's scan, or with a fixed ``n_steps``
    f(x) and f(x′), which auto mode gets with its gradients at the path's ends); the masking
    methods need none."""
    if method == "ig" and "n_steps" in documents:
        return documents["n_steps"].to_numpy(dtype=float)
    return np.zeros(len(documents))


MEMORY = ("rss", "torch")


def cost_table(
    model,
    tokenizer,
    texts,
    methods: Mapping[str, dict] | Sequence[str] = ("ig", "loo", "atman"),
    *,
    memory: str = "rss",
    warm_up: bool = True,
) -> pd.DataFrame:
    """Time, passes and peak memory of each method on ``texts`` (a small sample: each method runs once).

    Args:
        model, tokenizer: the classifier and its tokenizer.
        texts: what :func:`course_utils.attribution.explain` accepts.
        methods: method names, or ``{name: options}`` (e.g. ``{"ig": {"n_steps": 16}, "loo": {}}``).
        memory: ``"rss"`` (default): the rise of the process's resident memory, measured by
            :func:`course_utils.benchmarking.measure` as in notebook 04 and ``benchmarks/`` (includes the
            allocator's slack; varies a little from run to run); ``"torch"``: torch's own tensor memory
            (:func:`measure_peak_memory`; deterministic, the time then includes the profiler's overhead).
        warm_up: first explain one text with each method, untimed (one-off start-up costs).

    Returns:
        DataFrame indexed by method: ``n_docs, seconds_per_doc, forward_passes_per_doc,
        backward_passes_per_doc, peak_memory_mb``. Forward passes are counted per sequence (IG: one per
        quadrature point, each followed by a backward pass, plus in auto mode a 3-point scan and with a fixed
        ``n_steps`` f(x) and f(x′)). Taught in notebook 05.
    """
    from ..benchmarking import measure

    check_choice(memory, "memory", MEMORY)
    if isinstance(methods, str):
        methods = {methods: {}}
    elif not isinstance(methods, Mapping):
        methods = {name: {} for name in methods}
    device = next(model.parameters()).device
    first = texts if isinstance(texts, str) else list(texts)[:1]
    rows = []
    for name, opts in methods.items():
        if warm_up:
            explain(model, tokenizer, first, name, progress=False, **opts)
        run = functools.partial(explain, model, tokenizer, texts, name, progress=False, **opts)
        if memory == "rss":
            result = measure(run)
            table, seconds, peak = result.result, result.seconds, result.peak_mb
        else:
            start = time.perf_counter()
            table, peak = measure_peak_memory(run, device)
            seconds = time.perf_counter() - start
        docs = table.documents
        forward = (
            docs["forward_passes"].to_numpy(dtype=float)
            if "forward_passes" in docs
            else np.full(len(docs), np.nan)
        )
        rows.append(
            {
                "method": name,
                "n_docs": len(docs),
                "seconds_per_doc": seconds / len(docs),
                "forward_passes_per_doc": float(forward.mean()),
                "backward_passes_per_doc": float(_backward_passes(name, docs).mean()),
                "peak_memory_mb": peak,
            }
        )
    return pd.DataFrame(rows).set_index("method")
