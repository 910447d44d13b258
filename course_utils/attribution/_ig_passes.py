"""Integrated gradients' pass scheduling: which (document, point) rows share a forward/backward pass, and
which rows need not run at all.

Nearly all of IG's time is forward and backward passes, one row per (document, point). The rows of a batch
are one big job, cut into passes of about a token budget (or a fixed number of rows, ``internal_batch_size``),
all about the same size so that no small pass is left over (:func:`passes`). The budget (:func:`token_budget`)
is ``TOKEN_BUDGET`` on a CPU, where it is a speed optimum, and on a CUDA device what half its free memory holds;
each pass is then trimmed to its longest document, and :mod:`._cls_forward` packs its rows so the per-token
work skips the padding. Documents with the same baseline input and target — under ``[PAD]``: the same length
— share one evaluation of f(x′) and ∇f(x′) (:func:`same_baseline`).

Taught in notebook 03 (integrated gradients: the cost of a path integral).
"""

from __future__ import annotations

import numpy as np
import torch

TOKEN_BUDGET = (
    2048  # internal_batch_size=None: rows per pass up to this many tokens (2 CPU cores: 1,500–2,500 fastest)
)
GPU_MEMORY_FRACTION = 0.5  # on CUDA: the share of the free memory one pass's activations may take


def activation_bytes_per_token(config, seq_len: int, element_size: int = 4) -> int:
    """Bytes a forward/backward pass keeps per token of a BERT-like ``config`` at padded length ``seq_len``.

    Korthikanti et al. (2022, "Reducing activation recomputation in large transformer models", eq. 1): one
    transformer layer stores about ``s·h·(34 + 5·a·s/h)`` bytes of activations per sequence at 16-bit
    precision, i.e. ``34·h + 5·a·s`` per token (h hidden size, a heads, s length); scaled to ``element_size``
    bytes per value, times the layers, plus the input embeddings and their gradient (``2·h`` values).
    """
    h, layers, heads = config.hidden_size, config.num_hidden_layers, config.num_attention_heads
    per_layer = (34 * h + 5 * heads * int(seq_len)) * element_size / 2
    return int(layers * per_layer + 2 * h * element_size)


def token_budget(
    device: torch.device,
    config,
    seq_len: int,
    dtype: torch.dtype = torch.float32,
    free_bytes: int | None = None,
) -> int:
    """Tokens per forward/backward pass when ``internal_batch_size`` is None.

    On a CPU (and any device but CUDA): ``TOKEN_BUDGET``, where passes run fastest per token on a few cores.
    On a CUDA device: what ``GPU_MEMORY_FRACTION`` of its free memory (``torch.cuda.mem_get_info``, or
    ``free_bytes``) holds at :func:`activation_bytes_per_token` — never less than ``TOKEN_BUDGET``. Under
    ``torch.autocast`` on that device the autocast dtype's size counts, else ``dtype``'s.
    """
    if device.type != "cuda":
        return TOKEN_BUDGET
    if free_bytes is None:
        free_bytes = torch.cuda.mem_get_info(device)[0]
    if torch.is_autocast_enabled("cuda"):
        dtype = torch.get_autocast_dtype("cuda")
    per_token = activation_bytes_per_token(config, seq_len, torch.empty((), dtype=dtype).element_size())
    return max(TOKEN_BUDGET, int(free_bytes * GPU_MEMORY_FRACTION // per_token))


def passes(lengths: torch.Tensor, rows_per_pass: int | None, budget: int = TOKEN_BUDGET) -> list[slice]:
    """Consecutive rows per forward/backward pass for rows of ``lengths`` ``(r,)`` tokens: ``rows_per_pass`` rows
    if it is an int, else (None) the fewest passes of at most about ``budget`` tokens (:func:`token_budget`),
    all about the same size (no small pass left over)."""
    if rows_per_pass is not None:
        return [slice(i, i + rows_per_pass) for i in range(0, len(lengths), rows_per_pass)]
    if len(lengths) == 0:
        return []
    ends = np.cumsum(lengths.cpu().numpy())  # (rows,) tokens up to and including each row
    n_passes = -(-int(ends[-1]) // int(budget))
    starts = (
        np.searchsorted(ends, ends[-1] * np.arange(1, n_passes) / n_passes) + 1
    )  # first row of passes 2, 3, …
    bounds = [0, *sorted({int(i) for i in starts if 0 < i < len(lengths)}), len(lengths)]
    return [slice(a, c) for a, c in zip(bounds[:-1], bounds[1:])]


def same_baseline(base_ids, mask, token_type_ids, targets) -> torch.Tensor:
    """LongTensor ``(b,)``: for each document the first one with the same baseline input (token ids, segments,
    length) and target — e.g. all paragraphs of one length under the ``[PAD]`` baseline — whose f(x′) and
    ∇f(x′) are then computed once."""
    lengths = mask.sum(1).tolist()
    types = token_type_ids if token_type_ids is not None else torch.zeros_like(base_ids)
    seen: dict[tuple, int] = {}
    same = [
        seen.setdefault((n, int(t), tuple(ids[:n]), tuple(tt[:n])), d)
        for d, (n, t, ids, tt) in enumerate(zip(lengths, targets.tolist(), base_ids.tolist(), types.tolist()))
    ]
    return torch.tensor(same, dtype=torch.long, device=base_ids.device)
