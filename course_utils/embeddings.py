"""How BERT turns text into vectors: WordPieces, the three embedding tables, contextual vectors, attention.

Taught in notebook 01 (BERT embeddings). Every function accepts a plain ``BertModel`` (as returned by
:func:`course_utils.models.load_encoder`) or a model with a BERT inside, such as the fine-tuned
``BertForSequenceClassification`` of :func:`course_utils.models.load_classifier` (its ``.bert``).

Texts are given as one string, one sentence pair ``("first sentence", "second sentence")`` (a tuple of
exactly two strings), or a list of either (all single texts or all pairs). Pairs get segment A (token
type 0) for the first sentence with its ``[CLS]``/``[SEP]`` and segment B (token type 1) for the second.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from . import _validation

__all__ = [
    "AttentionMap",
    "ContextualVectors",
    "EmbeddingComponents",
    "attention_map",
    "bert_of",
    "check_texts",
    "contextual_vectors",
    "cosine_matrix",
    "embedding_components",
    "encode",
    "head_summary",
    "layer_norm",
    "rebuild_embeddings",
    "word_pieces",
]

TextInput = str | tuple[str, str] | Iterable


# ------------------------------------------------------------------------------------------- validation
def bert_of(model) -> torch.nn.Module:
    """The BERT encoder inside ``model``: the model itself (``BertModel``) or its ``base_model`` / ``.bert``.

    Taught in notebook 01.

    Raises:
        TypeError: ``model`` has no BERT-style embedding layer (``word``/``token_type``/``position`` tables).
    """
    candidates = [model, getattr(model, "bert", None), getattr(model, "base_model", None)]
    for cand in candidates:
        emb = getattr(cand, "embeddings", None)
        if emb is not None and all(
            hasattr(emb, t) for t in ("word_embeddings", "token_type_embeddings", "position_embeddings")
        ):
            return cand
    raise TypeError(
        f"model must be a BERT (BertModel) or contain one (e.g. BertForSequenceClassification), got "
        f"{type(model).__name__}, which has no embeddings.word_embeddings/token_type_embeddings/position_embeddings; "
        "load one with course_utils.models.load_encoder()"
    )


def check_texts(texts: TextInput) -> tuple[list[str], list[str] | None]:
    """Normalise ``texts`` to ``(first_sentences, second_sentences_or_None)``.

    Accepted forms: ``"a text"``; ``("sentence A", "sentence B")`` = ONE pair; a list (or other iterable)
    of strings; a list of pairs. To pass two separate texts use a list, not a tuple.

    Raises:
        TypeError: not a string, pair, or iterable of them.
        ValueError: an empty list, an empty text, or a mix of single texts and pairs.
    """
    items = _validation.check_texts(texts, allow_pairs=True)
    is_pair = [isinstance(t, tuple) for t in items]
    if any(is_pair) and not all(is_pair):
        raise ValueError(
            "texts mixes single texts and (sentence A, sentence B) pairs: give all singles or all pairs"
        )
    if all(is_pair):
        return [a for a, _ in items], [b for _, b in items]
    return items, None


def _check_index(name: str, value: int, size: int, what: str) -> int:
    value = _validation.check_scalar(value, name, int)
    if not -size <= value < size:
        raise ValueError(
            f"{name}={value} is out of range: this model has {size} {what} (0 … {size - 1}, or negative from the end)"
        )
    return value % size


def _device(model) -> torch.device:
    return next(model.parameters()).device


def encode(model, tokenizer, texts: TextInput, *, max_length: int | None = None) -> dict[str, torch.Tensor]:
    """Tokenise ``texts`` into a padded batch on the model's device.

    Args:
        max_length: truncate longer inputs (pairs: the longer sentence first); default the model's limit
            (``config.max_position_embeddings``, 512 for BERT).

    Returns:
        dict with ``input_ids``, ``token_type_ids``, ``attention_mask``, each a LongTensor ``(batch, seq)``.
    """
    first, second = check_texts(texts)
    bert = bert_of(model)
    limit = bert.config.max_position_embeddings
    max_length = limit if max_length is None else max_length
    if not 2 <= max_length <= limit:
        raise ValueError(
            f"max_length={max_length}: need 2 <= max_length <= {limit} (the model's number of positions)"
        )
    batch = tokenizer(
        first, second, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    ids = batch["input_ids"]  # (batch, seq)
    out = {
        "input_ids": ids,
        "token_type_ids": batch.get("token_type_ids", torch.zeros_like(ids)),
        "attention_mask": batch.get("attention_mask", torch.ones_like(ids)),
    }
    return {k: v.to(_device(bert)) for k, v in out.items()}


# ------------------------------------------------------------------------------------ embedding tables
@dataclass
class EmbeddingComponents:
    """The three embedding look-ups for a batch, and what the embedding layer makes of them.

    Attributes:
        tokens: the WordPieces of each text (padding included), ``batch`` lists of ``seq`` strings.
        input_ids, token_type_ids, position_ids, attention_mask: LongTensors ``(batch, seq)``.
        token: rows of the word (token) embedding table, ``(batch, seq, hidden)``.
        segment: rows of the segment (token type) table: E_A for type 0, E_B for type 1, ``(batch, seq, hidden)``.
        position: rows of the position table: E_0, E_1, … ``(batch, seq, hidden)``.
        summed: ``token + segment + position`` before LayerNorm, ``(batch, seq, hidden)``.
        combined: ``summed`` after the model's LayerNorm (by hand) = the embedding layer's output in eval
            mode, ``(batch, seq, hidden)``.
    """

    tokens: list[list[str]]
    input_ids: torch.Tensor
    token_type_ids: torch.Tensor
    position_ids: torch.Tensor
    attention_mask: torch.Tensor
    token: torch.Tensor
    segment: torch.Tensor
    position: torch.Tensor
    summed: torch.Tensor
    combined: torch.Tensor

    def norms(self, index: int = 0) -> pd.DataFrame:
        """L2 norm of each component for every real (non-padding) token of text ``index``.

        Returns:
            DataFrame with columns ``position, token, segment_id, token_norm, segment_norm, position_norm,
            summed_norm, combined_norm``, one row per token.
        """
        index = _check_index("index", index, len(self.tokens), "texts in this batch")
        keep = self.attention_mask[index].bool()  # (seq,)
        cols = {
            name: getattr(self, name)[index][keep].norm(dim=-1).cpu().numpy()  # (n_tokens,)
            for name in ("token", "segment", "position", "summed", "combined")
        }
        return pd.DataFrame(
            {
                "position": self.position_ids[index][keep].cpu().numpy(),
                "token": [t for t, k in zip(self.tokens[index], keep.tolist()) if k],
                "segment_id": self.token_type_ids[index][keep].cpu().numpy(),
                **{f"{name}_norm": v for name, v in cols.items()},
            }
        )


def layer_norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    """LayerNorm written out: normalise each vector over its last axis, then scale and shift.

    ``(x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance, as ``torch.nn.LayerNorm``.

    Args:
        x: ``(..., hidden)``; weight, bias: ``(hidden,)``; eps: the model's ``layer_norm_eps``.

    Returns:
        tensor of the same shape as ``x``.
    """
    mean = x.mean(dim=-1, keepdim=True)  # (..., 1)
    var = x.var(dim=-1, keepdim=True, unbiased=False)  # (..., 1)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias  # (..., hidden)


def rebuild_embeddings(
    model, token: torch.Tensor, segment: torch.Tensor, position: torch.Tensor
) -> torch.Tensor:
    """The embedding layer's output rebuilt by hand: sum the three look-ups, then the model's LayerNorm.

    Uses the model's own LayerNorm weight, bias and ``eps``; no dropout, so it equals
    ``model.embeddings(input_ids=…, token_type_ids=…)`` in eval mode. Taught in notebook 01.

    Args:
        token, segment, position: ``(batch, seq, hidden)`` each (see :func:`embedding_components`).

    Returns:
        ``(batch, seq, hidden)``.
    """
    if not token.shape == segment.shape == position.shape:
        raise ValueError(
            f"token, segment and position must have the same shape, got {tuple(token.shape)}, "
            f"{tuple(segment.shape)}, {tuple(position.shape)}"
        )
    ln = bert_of(model).embeddings.LayerNorm
    summed = token + segment + position  # (batch, seq, hidden)
    return layer_norm(summed, ln.weight, ln.bias, ln.eps)  # (batch, seq, hidden)


@torch.no_grad()
def embedding_components(
    model, tokenizer, texts: TextInput, *, max_length: int | None = None
) -> EmbeddingComponents:
    """Look up the token, segment and position embeddings of ``texts`` and combine them by hand.

    Taught in notebook 01. Works with a ``BertModel`` or a model containing one.

    Args:
        texts: a string, a ``(sentence A, sentence B)`` pair, or a list of either (see :func:`check_texts`).
        max_length: truncation length in tokens (default: the model's maximum, 512 for BERT).

    Returns:
        :class:`EmbeddingComponents` with ``token``, ``segment``, ``position``, ``summed`` and ``combined``,
        each ``(batch, seq, hidden)``. ``combined`` equals ``model.embeddings(...)`` in eval mode.

    Warns:
        UserWarning: the model is in training mode (its embedding layer would then apply dropout).
    """
    bert = bert_of(model)
    if bert.training:
        warnings.warn(
            "the model is in training mode: its embedding layer applies dropout, so its output will not "
            "match the rebuilt sum; call model.eval() first",
            UserWarning,
            stacklevel=2,
        )
    batch = encode(model, tokenizer, texts, max_length=max_length)
    emb = bert.embeddings
    ids, types = batch["input_ids"], batch["token_type_ids"]  # (batch, seq) each
    positions = torch.arange(ids.shape[1], device=ids.device).expand_as(ids)  # (batch, seq)
    token = emb.word_embeddings(ids)  # (batch, seq, hidden)
    segment = emb.token_type_embeddings(types)  # (batch, seq, hidden)
    position = emb.position_embeddings(positions)  # (batch, seq, hidden)
    return EmbeddingComponents(
        tokens=[tokenizer.convert_ids_to_tokens(row) for row in ids.tolist()],
        input_ids=ids,
        token_type_ids=types,
        position_ids=positions,
        attention_mask=batch["attention_mask"],
        token=token,
        segment=segment,
        position=position,
        summed=token + segment + position,  # (batch, seq, hidden)
        combined=rebuild_embeddings(model, token, segment, position),  # (batch, seq, hidden)
    )


# ------------------------------------------------------------------------------------------ WordPieces
def word_pieces(tokenizer, texts: Iterable[str], *, min_pieces: int = 1) -> pd.DataFrame:
    """How the tokenizer splits each distinct word of ``texts`` into WordPieces.

    Taught in notebook 01. A "word" is what the tokenizer's pre-tokenizer separates (punctuation is a word).

    Args:
        texts: strings (e.g. a column of the corpus).
        min_pieces: keep words split into at least this many pieces (2 = only split words).

    Returns:
        DataFrame with columns ``word`` (lower-cased for uncased models, as the tokenizer sees it),
        ``pieces`` (list of str), ``n_pieces``, ``count`` (occurrences), sorted by count then word.
    """
    first, second = check_texts(list(texts) if not isinstance(texts, str) else texts)
    if second is not None:
        raise ValueError("word_pieces takes single texts, not sentence pairs")
    enc = tokenizer(first, add_special_tokens=False, return_offsets_mapping=True)
    found: dict[str, list] = {}
    for i, text in enumerate(first):
        pieces: dict[int, list[str]] = {}
        spans: dict[int, tuple[int, int]] = {}
        tokens = enc.tokens(i)
        for j, (w, (s, e)) in enumerate(zip(enc.word_ids(i), enc["offset_mapping"][i])):
            if w is None:
                continue
            pieces.setdefault(w, []).append(tokens[j])
            spans[w] = (spans.get(w, (s, e))[0], e)
        for w, ps in pieces.items():
            word = (
                "".join(p[2:] if p.startswith("##") else p for p in ps)
                if ps[0] != tokenizer.unk_token
                else text[slice(*spans[w])]
            )
            entry = found.setdefault(word, [ps, 0])
            entry[1] += 1
    df = pd.DataFrame(
        [(w, ps, len(ps), n) for w, (ps, n) in found.items()], columns=["word", "pieces", "n_pieces", "count"]
    )
    df = df[df["n_pieces"] >= min_pieces]
    return df.sort_values(["count", "word"], ascending=[False, True], ignore_index=True)


# --------------------------------------------------------------------------------- contextual vectors
@dataclass
class ContextualVectors:
    """One word's vectors in several sentences, before and after the encoder.

    Attributes:
        word: the word looked up; pieces: its WordPieces (e.g. ``['bi', '##partisan']``).
        sentences: the sentences, in order; positions: the token positions of the word in each sentence.
        input: the word-embedding table rows (layer 0, before positions and segments are added), averaged
            over the word's pieces, ``(n_sentences, hidden)``. Identical in every sentence.
        contextual: the encoder's hidden state at ``layer`` averaged over the pieces, ``(n_sentences, hidden)``.
        layer: which hidden state (``0`` = embedding layer output, ``num_hidden_layers`` = last).
    """

    word: str
    pieces: list[str]
    sentences: list[str]
    positions: list[list[int]]
    input: torch.Tensor
    contextual: torch.Tensor
    layer: int


def _find_word(ids: list[int], word_ids: list[int], tokens: list[str]) -> list[int] | None:
    """Positions of the first whole-word occurrence of the piece sequence ``word_ids`` in ``ids``."""
    n = len(word_ids)
    for start in range(len(ids) - n + 1):
        follows = tokens[start + n] if start + n < len(tokens) else ""
        if ids[start : start + n] == word_ids and not follows.startswith("##"):
            return list(range(start, start + n))
    return None


@torch.no_grad()
def contextual_vectors(
    model, tokenizer, sentences: Iterable[str], word: str, *, layer: int = -1, max_length: int | None = None
) -> ContextualVectors:
    """The vectors of ``word`` in each sentence: its input embedding and its contextual vector.

    Taught in notebook 01. A word that the tokenizer splits into several WordPieces (``"bipartisan"`` →
    ``bi ##partisan``) is represented by the **mean over its pieces**, both for the input and the contextual
    vector. When the word occurs several times in a sentence, the first occurrence is used. Matching is on
    WordPieces, so an uncased model finds "Union" for ``word="union"``; a cased model needs the same case.

    Args:
        sentences: single texts (not pairs), each containing ``word`` as a whole word.
        word: one word, e.g. ``"bank"``.
        layer: hidden state to read, ``0`` (embedding layer) … ``num_hidden_layers`` (last, the default ``-1``).

    Returns:
        :class:`ContextualVectors` with ``input`` and ``contextual`` of shape ``(n_sentences, hidden)``.

    Raises:
        ValueError: ``word`` is empty or several words, or is missing from a sentence (the message names
            the sentence and the word's WordPieces).
    """
    if not isinstance(word, str):
        raise TypeError(f"word must be a string, got {type(word).__name__}")
    first, second = check_texts(list(sentences) if not isinstance(sentences, str) else sentences)
    if second is not None:
        raise ValueError("contextual_vectors takes single sentences, not sentence pairs")
    if len(word.split()) != 1:
        raise ValueError(f"word={word!r}: give exactly one word, e.g. 'bank'")
    bert = bert_of(model)
    layer = _check_index("layer", layer, bert.config.num_hidden_layers + 1, "hidden states (0 = embeddings)")
    pieces = tokenizer.tokenize(word)
    piece_ids = tokenizer.convert_tokens_to_ids(pieces)
    batch = encode(model, tokenizer, first, max_length=max_length)
    positions = []
    for i, row in enumerate(batch["input_ids"].tolist()):
        found = _find_word(row, piece_ids, tokenizer.convert_ids_to_tokens(row))
        if found is None:
            raise ValueError(
                f"word {word!r} (WordPieces {pieces}) is not a whole word of sentence {i}: {first[i]!r}; "
                "check the spelling (and case for a cased model) or drop the sentence"
            )
        positions.append(found)
    hidden = bert(**batch, output_hidden_states=True).hidden_states[layer]  # (n, seq, hidden)
    table = bert.embeddings.word_embeddings
    ids = batch["input_ids"]  # (n, seq)
    input_vecs = torch.stack(
        [table(ids[i, pos]).mean(dim=0) for i, pos in enumerate(positions)]
    )  # (n, hidden)
    contextual = torch.stack([hidden[i, pos].mean(dim=0) for i, pos in enumerate(positions)])  # (n, hidden)
    return ContextualVectors(
        word=word,
        pieces=pieces,
        sentences=first,
        positions=positions,
        input=input_vecs,
        contextual=contextual,
        layer=layer,
    )


def cosine_matrix(a, b=None) -> np.ndarray:
    """Cosine similarity of every row of ``a`` with every row of ``b`` (default ``b = a``).

    Taught in notebook 01.

    Args:
        a: ``(n, d)`` tensor or array; b: ``(m, d)`` or None.

    Returns:
        numpy array ``(n, m)`` with values in [-1, 1].
    """
    a = torch.as_tensor(a).detach().double().cpu()
    b = a if b is None else torch.as_tensor(b).detach().double().cpu()
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(
            f"need two 2-D inputs with the same number of columns, got shapes {tuple(a.shape)} and {tuple(b.shape)}"
        )
    a = torch.nn.functional.normalize(a, dim=1)  # (n, d)
    b = torch.nn.functional.normalize(b, dim=1)  # (m, d)
    return (a @ b.T).clamp(-1, 1).numpy()  # (n, m)


# -------------------------------------------------------------------------------------------- attention
@dataclass
class AttentionMap:
    """One head's attention weights for one text.

    Attributes:
        tokens: the WordPieces (with ``[CLS]``/``[SEP]``), length ``seq``.
        weights: numpy ``(seq, seq)``; row ``i`` is how query token ``i`` spreads its attention over the
            key tokens (each row sums to 1).
        layer, head: which layer (0-based) and head.
    """

    tokens: list[str]
    weights: np.ndarray
    layer: int
    head: int


def _attentions(model, tokenizer, text: str | tuple[str, str]) -> tuple[list[str], torch.Tensor]:
    """Tokens and all attention weights ``(layers, heads, seq, seq)`` of one text or pair (eager attention)."""
    first, _ = check_texts(text)
    if len(first) != 1:
        raise ValueError(
            f"give one text or one (sentence A, sentence B) pair, got {len(first)} texts; call once per text"
        )
    bert = bert_of(model)
    impl = getattr(bert.config, "_attn_implementation", "eager")
    if impl not in (None, "eager"):
        raise ValueError(
            f"the model uses attn_implementation={impl!r}, which does not return attention weights; "
            "load it with attn_implementation='eager' (course_utils.models.load_encoder does)"
        )
    batch = encode(model, tokenizer, text)
    with torch.no_grad():
        attentions = bert(**batch, output_attentions=True).attentions  # layers × (1, heads, seq, seq)
    if not attentions or any(a is None for a in attentions):
        raise ValueError("the model returned no attention weights; load it with attn_implementation='eager'")
    tokens = tokenizer.convert_ids_to_tokens(batch["input_ids"][0].tolist())
    return tokens, torch.cat(attentions).float().cpu()  # (layers, heads, seq, seq)


def attention_map(
    model, tokenizer, text: str | tuple[str, str], layer: int = -1, head: int = 0
) -> AttentionMap:
    """The attention weights of one head in one layer for one text (or sentence pair).

    Taught in notebook 01. Needs a model loaded with ``attn_implementation="eager"`` (the course's
    loaders do that): the fused kernels (``sdpa``, flash) never form the attention matrix.

    Args:
        text: one string or one ``(sentence A, sentence B)`` pair.
        layer: 0 … ``num_hidden_layers - 1`` (negative counts from the end; default the last layer).
        head: 0 … ``num_attention_heads - 1``.

    Returns:
        :class:`AttentionMap` with ``weights`` of shape ``(seq, seq)``.
    """
    config = bert_of(model).config
    layer = _check_index("layer", layer, config.num_hidden_layers, "layers")
    head = _check_index("head", head, config.num_attention_heads, "heads per layer")
    tokens, weights = _attentions(model, tokenizer, text)  # (layers, heads, seq, seq)
    return AttentionMap(tokens=tokens, weights=weights[layer, head].numpy(), layer=layer, head=head)


def head_summary(model, tokenizer, text: str | tuple[str, str]) -> pd.DataFrame:
    """Where every head of every layer sends its attention, on average over the query tokens of ``text``.

    Taught in notebook 01 (what attention is and is not). One forward pass.

    Returns:
        DataFrame with one row per (layer, head) and columns ``layer, head`` and the mean attention weight
        (0–1) a query gives to: ``special`` (all ``[CLS]``/``[SEP]`` keys together), ``previous`` (the token
        just before it), ``next`` (just after), ``self`` (itself); and ``uniform`` = 1 / seq, the weight of
        any one key under evenly spread attention.
    """
    tokens, att = _attentions(model, tokenizer, text)  # (layers, heads, seq, seq)
    n_layers, n_heads, seq, _ = att.shape
    special = torch.tensor([t in tokenizer.all_special_tokens for t in tokens])  # (seq,)
    diag = lambda k: torch.diagonal(att, offset=k, dim1=-2, dim2=-1).mean(-1)  # (layers, heads)  # noqa: E731
    cols = {
        "special": att[..., special].sum(-1).mean(-1),  # (layers, heads)
        "previous": diag(-1) if seq > 1 else torch.zeros(n_layers, n_heads),
        "next": diag(1) if seq > 1 else torch.zeros(n_layers, n_heads),
        "self": diag(0),
    }
    layer, head = np.meshgrid(np.arange(n_layers), np.arange(n_heads), indexing="ij")
    return pd.DataFrame(
        {
            "layer": layer.ravel(),
            "head": head.ravel(),
            **{k: v.numpy().ravel() for k, v in cols.items()},
            "uniform": 1.0 / seq,
        }
    )
