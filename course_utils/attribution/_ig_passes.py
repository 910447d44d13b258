"""Integrated gradients' pass scheduling: which (document, point) rows share a forward/backward pass, and
which rows need not run at all.

Nearly all of IG's time is forward and backward passes, one row per (document, point). The rows of a batch
are one big job, cut into passes of about ``TOKEN_BUDGET`` tokens (or a fixed number of rows,
``internal_batch_size``), all about the same size so that no small pass is left over (:func:`passes`);
each pass is then trimmed to its longest document, and :mod:`._cls_forward` packs its rows so the per-token
work skips the padding. Documents with the same baseline input and target — under ``[PAD]``: the same length
— share one evaluation of f(x′) and ∇f(x′) (:func:`same_baseline`).

Taught in notebook 03 (integrated gradients: the cost of a path integral).
"""

from __future__ import annotations

import numpy as np
import torch

TOKEN_BUDGET = 2048  # internal_batch_size=None: rows per pass up to this many tokens (2 CPU cores: 1,500–2,500 fastest)


def passes(lengths: torch.Tensor, rows_per_pass: int | None) -> list[slice]:
    """Consecutive rows per forward/backward pass for rows of ``lengths`` ``(r,)`` tokens: ``rows_per_pass`` rows
    if it is an int, else (None) the fewest passes of at most about ``TOKEN_BUDGET`` tokens, all about the same
    size (no small pass left over)."""
    if rows_per_pass is not None:
        return [slice(i, i + rows_per_pass) for i in range(0, len(lengths), rows_per_pass)]
    if len(lengths) == 0:
        return []
    ends = np.cumsum(lengths.cpu().numpy())  # (rows,) tokens up to and including each row
    n_passes = -(-int(ends[-1]) // TOKEN_BUDGET)
    starts = np.searchsorted(ends, ends[-1] * np.arange(1, n_passes) / n_passes) + 1  # first row of passes 2, 3, …
    bounds = [0, *sorted({int(i) for i in starts if 0 < i < len(lengths)}), len(lengths)]
    return [slice(a, c) for a, c in zip(bounds[:-1], bounds[1:])]


def same_baseline(base_ids, mask, token_type_ids, targets) -> torch.Tensor:
    """LongTensor ``(b,)``: for each document the first one with the same baseline input (token ids, segments,
    length) and target — e.g. all paragraphs of one length under the ``[PAD]`` baseline — whose f(x′) and
    ∇f(x′) are then computed once."""
    lengths = mask.sum(1).tolist()
    types = token_type_ids if token_type_ids is not None else torch.zeros_like(base_ids)
    seen: dict[tuple, int] = {}
    same = [seen.setdefault((n, int(t), tuple(ids[:n]), tuple(tt[:n])), d)
            for d, (n, t, ids, tt) in enumerate(zip(lengths, targets.tolist(), base_ids.tolist(), types.tolist()))]
    return torch.tensor(same, dtype=torch.long, device=base_ids.device)
