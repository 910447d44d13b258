"""Run the model on many perturbed copies of many documents: the engine under every faithfulness metric.

Perturbed copies are made by :func:`course_utils.attribution._masking.perturb` — the ONE masking
implementation of the course, shared with leave-one-out — and scored by its
:func:`~course_utils.attribution._masking.target_log_probs` (batched, ``torch.inference_mode()``, eval
mode). On top of that this module removes duplicate copies (e.g. "nothing removed" is the same for every
method), sorts copies by length so batches carry little padding, and shows a tqdm progress bar.

Taught in notebook 05 (evaluating explanations).
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from .._validation import check_choice
from ..attribution import _masking

AUTO_PROGRESS = 20  # progress=None shows a bar for more than this many documents
CHUNK_BATCHES = 8  # forward passes between two progress-bar updates


def replacement_ids(model, tokenizer, replacement: str) -> tuple[int | None, int]:
    """``(replacement id or None for "delete", pad id)`` — looked up exactly as leave-one-out does."""
    check_choice(replacement, "replacement", _masking.REPLACEMENTS)
    explicit = getattr(tokenizer, f"{replacement}_token_id", None) if replacement != "delete" else None
    token_id = _masking.replacement_token_id(replacement, model, explicit)
    pad_id = getattr(tokenizer, "pad_token_id", None)
    if pad_id is None:
        pad_id = getattr(getattr(model, "config", None), "pad_token_id", None) or 0
    return token_id, int(pad_id)


def copies(
    input_ids: torch.Tensor, remove: torch.Tensor, token_id: int | None, pad_id: int
) -> list[torch.Tensor]:
    """The perturbed token ids, one 1-D tensor per row of ``remove`` ``(k, n)`` (deleted tokens closed up)."""
    out = _masking.perturb(
        input_ids, remove, torch.ones_like(input_ids), replacement_id=token_id, pad_id=pad_id
    )
    lengths = out["attention_mask"].sum(1).tolist()  # (k,)
    return [out["input_ids"][r, :n] for r, n in enumerate(lengths)]


def target_probabilities(
    model,
    sequences: list[torch.Tensor],
    targets: list[int],
    *,
    batch_size: int = 64,
    progress: bool = False,
    desc: str = "forward passes",
) -> np.ndarray:
    """p(target | sequence) for each token-id sequence, computed once per distinct (sequence, target).

    Args:
        sequences: 1-D LongTensors (``[CLS] … [SEP]``, no padding).
        targets: the class index to read, one per sequence.
        batch_size: sequences per forward pass.

    Returns:
        float64 array ``(len(sequences),)``.
    """
    keys = [(tuple(s.tolist()), int(t)) for s, t in zip(sequences, targets)]
    unique = list(dict.fromkeys(keys))  # distinct copies, first-seen order
    unique.sort(key=lambda key: len(key[0]))  # similar lengths together: little padding
    device = next(model.parameters()).device
    probs: dict[tuple, float] = {}
    step = batch_size * CHUNK_BATCHES
    with tqdm(total=len(unique), desc=desc, disable=not progress, unit="seq") as bar:
        for start in range(0, len(unique), step):
            chunk = unique[start : start + step]
            rows = [
                {
                    "input_ids": torch.tensor(ids, device=device),
                    "attention_mask": torch.ones(len(ids), dtype=torch.long, device=device),
                    "token_type_ids": torch.zeros(len(ids), dtype=torch.long, device=device),
                }
                for ids, _ in chunk
            ]
            log_p = _masking.target_log_probs(
                model, rows, [t for _, t in chunk], internal_batch_size=batch_size
            )
            probs.update(zip(chunk, log_p.double().exp().tolist()))
            bar.update(len(chunk))
    return np.array([probs[key] for key in keys], dtype=np.float64)


def show_progress(progress: bool | None, n_docs: int) -> bool:
    return n_docs > AUTO_PROGRESS if progress is None else bool(progress)
