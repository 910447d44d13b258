"""Words as the units of the model-agnostic methods (SHAP and LIME), and the text classifier they call.

SHAP's Text masker and LIME's ``LimeTextExplainer`` perturb *strings*: they split a text into units, hide
some of them and ask a function for the model's probabilities on the altered strings. Their units must be
the table's words, or their scores could not be put on the table's rows. So each document is turned back
into a string whose space-separated parts are exactly its BERT words (``word_id`` 0, 1, … of the table):

    [CLS] we will defend our freedom , and un ##bel ##ie ##va ##bly … [SEP]
    → "we will defend our freedom , and unbelievably …"       (WordPieces of a word joined, words by spaces)

BERT's pre-tokenizer splits on whitespace *and* punctuation, so "freedom," is two words ("freedom" and
","), while a plain ``\\W+`` split (LIME's default) would drop the comma and a whitespace split of the raw
text would keep "freedom," together. Splitting the rebuilt string on single spaces gives back the BERT words
one for one; the tokenizer reads it back into the very same input ids (checked for every document).
A hidden word is replaced by one ``[MASK]`` token (however many WordPieces it had).

Scores come back per word and are written onto the table's WordPieces with
:func:`course_utils.attribution._masking.spread`: a word's score is shared equally by its pieces, so
``word_scores(table)`` returns exactly the method's own word scores. [CLS]/[SEP] get 0.

Taught in notebook 04 (masking attribution: SHAP and LIME beside leave-one-out and AtMan).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .. import _inference
from .._inference import eval_mode  # noqa: F401  (the methods' eval mode, from the one inference module)
from .._validation import check_positive_int, check_scalar  # noqa: F401  (re-exported to _shap, _lime)
from ._masking import batch_documents, spread


def check_seed(seed) -> int:
    """The seed as a non-negative int (numpy's generators take 0 … 2**32 − 1)."""
    return check_scalar(seed, "seed", int, min_val=0, max_val=2**32 - 1, hint="(any fixed integer, e.g. 42)")


def require_tokenizer(tokenizer, method: str):
    """The tokenizer, or a TypeError saying that this method needs it."""
    if tokenizer is None or not callable(tokenizer):
        raise TypeError(
            f"method {method!r} perturbs text and needs the model's tokenizer: call it through "
            f"explain(model, tokenizer, texts, {method!r}) or pass tokenizer="
        )
    return tokenizer


class WordDocument:
    """One document of a padded batch as words: the rebuilt text and which positions belong to which word.

    Attributes:
        positions: LongTensor ``(n_d,)`` — the document's real positions in the padded batch.
        words: ``list[str]`` of length ``n_words``, the BERT words in order (WordPieces joined).
        groups: BoolTensor ``(n_words, n_d)`` — row k marks the WordPieces of word k.
        text: the words joined by single spaces (what SHAP and LIME perturb).
    """

    def __init__(
        self, tokenizer, positions: torch.Tensor, row: dict[str, torch.Tensor], word_ids: torch.Tensor
    ):
        ids = row["input_ids"].tolist()  # (n_d,)
        wids = word_ids.tolist()  # (n_d,) -1 at [CLS]/[SEP]
        order = sorted({w for w in wids if w >= 0})
        tokens = tokenizer.convert_ids_to_tokens(ids)
        self.positions = positions
        self.words = [
            tokenizer.convert_tokens_to_string([t for t, w in zip(tokens, wids) if w == k]).strip()
            for k in order
        ]
        wid = torch.as_tensor(wids)
        self.groups = wid[None, :] == torch.as_tensor(order, dtype=wid.dtype)[:, None]  # (n_words, n_d)
        self.text = " ".join(self.words)
        self.input_ids = ids
        bad = [w for w in self.words if not w or any(c.isspace() for c in w)]
        if bad:
            raise ValueError(
                f"cannot rebuild the words {bad!r} as space-free strings; SHAP and LIME need words "
                "without spaces (is the tokenizer a BERT WordPiece tokenizer?)"
            )

    def __len__(self) -> int:
        return len(self.words)

    def check_round_trip(self, tokenizer, method: str) -> bool:
        """True if the tokenizer reads :attr:`text` back into the document's input ids; else warn and False."""
        again = tokenizer(self.text, add_special_tokens=True)["input_ids"]
        if list(again) == self.input_ids:
            return True
        warnings.warn(
            f"{method}: the text rebuilt from the words of a document does not tokenize back into the same "
            f"WordPieces ({len(again)} vs {len(self.input_ids)} tokens); {method} explains the rebuilt text "
            "(its f(x) is in the per-document table)",
            UserWarning,
            stacklevel=4,
        )
        return False

    def spread(self, word_values: np.ndarray, width: int) -> torch.Tensor:
        """Word scores ``(n_words,)`` → ``(width,)`` padded-position scores, each word's shared by its pieces."""
        return spread(
            self.groups, torch.as_tensor(np.asarray(word_values), dtype=torch.float32), self.positions, width
        )


def word_documents(batch: dict[str, torch.Tensor], tokenizer) -> list[WordDocument]:
    """Each document of a padded batch as a :class:`WordDocument` (needs ``batch["word_ids"]``)."""
    if batch.get("word_ids") is None:
        raise ValueError("SHAP and LIME explain words: the batch needs 'word_ids' (explain() provides them)")
    return [
        WordDocument(tokenizer, positions, row, word_ids)
        for positions, row, word_ids in batch_documents(batch)
    ]


class TextClassifier:
    """The function SHAP and LIME call: strings → the model's class probabilities, in batched forward passes.

    ``classifier(texts)`` tokenizes all ``texts`` (``[CLS]``/``[SEP]`` added, truncated silently at ``max_length``)
    and runs them through the model in consecutive chunks of ``internal_batch_size``, each padded to its longest
    text — one forward pass per chunk, in eval mode, under ``torch.inference_mode()``, on the model's device.

    Returns ``(n, n_labels)`` float64 probabilities, or ``(n,)`` the ``target`` column when ``target`` is set.
    Counts ``n_texts`` (sequences evaluated) and ``n_calls`` (forward passes) as it goes.
    """

    def __init__(
        self,
        model,
        tokenizer,
        *,
        internal_batch_size: int = 32,
        target: int | None = None,
        max_length: int | None = None,
    ):
        self.model, self.tokenizer, self.target = model, tokenizer, target
        self.internal_batch_size = internal_batch_size
        self.max_length = max_length or _inference.model_max_length(model)
        self.n_texts = 0
        self.n_calls = 0

    def __call__(self, texts) -> np.ndarray:
        texts = [str(t) for t in (texts.tolist() if hasattr(texts, "tolist") else texts)]
        n_labels = int(self.model.config.num_labels)
        probs = np.zeros((0, n_labels))  # (n, n_labels)
        if texts:
            enc, _ = _inference.encode(self.tokenizer, texts, self.max_length, warn=False)
            probs = (
                _inference.forward_rows(
                    self.model,
                    lambda batch: torch.softmax(self.model(**batch).logits.float(), dim=-1),
                    enc["input_ids"],
                    self.internal_batch_size,
                    self.tokenizer.pad_token_id,
                    width=n_labels,
                    order="input",
                    side=self.tokenizer.padding_side,
                    token_type_ids=enc.get("token_type_ids"),
                )
                .double()
                .numpy()
            )  # (n, n_labels): the order (and so the padding) of SHAP's and LIME's calls
            self.n_calls += -(-len(texts) // self.internal_batch_size)
        self.n_texts += len(texts)
        return probs if self.target is None else probs[:, self.target]
