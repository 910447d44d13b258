"""What identifies a tokenizer by its content, not by where it was loaded from.

:func:`tokenizer_fingerprint` hashes the vocabulary (every token with its id, added tokens included), the
special tokens' ids and the normalisation / pre-tokenisation / post-processing configuration. It is the
same for a tokenizer loaded from any copy of the same files, and different as soon as one token or id, the
lower-casing or the [CLS]/[SEP] template differs. Used by the corpus cache key
(:func:`course_utils.corpus.corpus_key`) and by :func:`course_utils.attribution._inputs.check_pair`, which
compares it with the one :func:`course_utils.models.new_classifier` records in ``model.config``.

Computing it takes about 50–100 ms for BERT's 30,522 tokens; it is kept on the tokenizer object and reused
while the tokenizer's size and special tokens do not change.
"""

from __future__ import annotations

import hashlib
import json

#: the attribute of ``model.config`` where the course records its tokenizer's fingerprint at creation
CONFIG_ATTRIBUTE = "course_tokenizer"
SPECIAL = ("pad_token_id", "cls_token_id", "sep_token_id", "mask_token_id", "unk_token_id")
_CACHE_ATTRIBUTE = "_course_fingerprint"


def vocab_sha256(tokenizer) -> str:
    """SHA-256 (hex) of the vocabulary in id order: one ``id<TAB>token`` line per token, added tokens included."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    vocab = backend.get_vocab(with_added_tokens=True) if backend is not None else tokenizer.get_vocab()
    lines = "\n".join(f"{i}\t{token}" for token, i in sorted(vocab.items(), key=lambda item: item[1]))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _pipeline_sha256(tokenizer) -> str | None:
    """SHA-256 of the fast tokenizer's normaliser, pre-tokeniser, post-processor, decoder and WordPiece options."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    spec = json.loads(backend.to_str())
    for runtime_state in ("truncation", "padding"):  # changed by every call with truncation=/padding=
        spec.pop(runtime_state, None)
    spec.get("model", {}).pop("vocab", None)  # hashed by vocab_sha256
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def tokenizer_fingerprint(tokenizer) -> dict:
    """The tokenizer's content: ``{"class", "size", "vocab_sha256", "special", "pipeline_sha256"}``.

    ``special`` maps ``pad_token_id``, ``cls_token_id``, ``sep_token_id``, ``mask_token_id`` and
    ``unk_token_id`` to their ids (None where the tokenizer has no such token). No path or hub name enters it.
    """
    size = len(tokenizer)
    special = {name: getattr(tokenizer, name, None) for name in SPECIAL}
    cached = getattr(tokenizer, _CACHE_ATTRIBUTE, None)
    if cached is not None and cached["size"] == size and cached["special"] == special:
        return {**cached, "special": dict(special)}
    fingerprint = {
        "class": type(tokenizer).__name__.removesuffix("Fast"),
        "size": size,
        "vocab_sha256": vocab_sha256(tokenizer),
        "special": special,
        "pipeline_sha256": _pipeline_sha256(tokenizer),
    }
    try:
        setattr(tokenizer, _CACHE_ATTRIBUTE, dict(fingerprint))
    except AttributeError:  # an object that refuses new attributes: compute it again next time
        pass
    return fingerprint


def record_tokenizer(model, tokenizer) -> None:
    """Store the tokenizer's vocabulary fingerprint in ``model.config`` (saved with it in ``config.json``)."""
    fingerprint = tokenizer_fingerprint(tokenizer)
    setattr(model.config, CONFIG_ATTRIBUTE, {k: fingerprint[k] for k in ("size", "vocab_sha256", "special")})
