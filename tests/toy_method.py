"""A toy attribution method for the tests: random scores, seeded per document — the recipe of
``course_utils.attribution`` tried once (one module, one registry line, one entry in conftest.METHOD_CASES).

Its scores mean nothing; it exists to show that a method written outside the package goes through
``explain()`` and the generic tests by declaring itself (:class:`~course_utils.attribution.Method`) and
nothing else. Registered only while a test uses it (:func:`registered`), so the package's own list of
methods is untouched.
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from course_utils.attribution import Diagnostics, Method, register, unregister

NAME = "random-test"


class RandomScores(Method):
    """Standard-normal scores for every real, non-special token, drawn from a generator seeded by ``seed``, the
    target and the document's token ids: the same document gets the same scores in any batch, another target
    other scores."""

    name = NAME
    predicts = False
    needs_tokenizer = False
    granularity = "token"

    @dataclass(frozen=True)
    class Options:
        seed: int = 0
        scale: float = 1.0

        def __post_init__(self):
            if isinstance(self.seed, bool) or not isinstance(self.seed, int):
                raise TypeError(f"seed must be an integer, got {type(self.seed).__name__} ({self.seed!r})")
            if not self.scale > 0:
                raise ValueError(f"scale={self.scale!r} must be a positive number")

    @staticmethod
    def attribute(model, batch, targets, options, tokenizer=None) -> tuple[torch.Tensor, Diagnostics]:
        mask = batch["attention_mask"].bool().cpu()  # (b, s)
        content = mask & (batch["word_ids"].cpu() >= 0)  # (b, s) real, non-special tokens
        scores = torch.zeros(mask.shape)  # (b, s)
        for d, target in enumerate(targets.tolist()):
            ids = batch["input_ids"][d, : int(mask[d].sum())].cpu().numpy()
            rng = np.random.default_rng([options.seed, target, zlib.crc32(ids.astype(np.int64).tobytes())])
            n = int(content[d].sum())
            scores[d, content[d]] = torch.as_tensor(
                rng.standard_normal(n) * options.scale, dtype=torch.float32
            )
        return scores, Diagnostics.of({"n_scored": content.sum(1), "seed": [options.seed] * len(targets)})


@contextmanager
def registered():
    """``with registered():`` — the toy method is available to explain() inside the block, and gone after it."""
    register(RandomScores)
    try:
        yield RandomScores
    finally:
        unregister(NAME)
