"""Scale-out of :func:`course_utils.corpus.explain_corpus` on Dask: ``explain_corpus(..., client=Client(...))``.

    from dask.distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        table = explain_corpus(model, tokenizer, frame, method="ig", client=client)

How it works:

* the model and tokenizer go to every worker **once**, in a :class:`ModelPlugin` (a Dask ``WorkerPlugin``
  registered under a name made of the model's fingerprint); a worker that joins later, or replaces one that
  died, receives it too. A task never carries the model.
* each missing chunk is **one task**: the worker explains the chunk's documents and writes the chunk folder
  atomically into the run's cache folder (exactly as the in-process path does), and returns only its index.
  The folder must be reachable by the workers and the driver at the same path (one machine, or a shared
  file system on a cluster).
* the driver reads the chunks back (checking their checksums) and assembles the tables.
* each worker's C allocator is set back to what torch expects (:func:`tune_allocator`): Dask's nanny starts
  workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also switches off glibc's adaptive mmap threshold, so
  every tensor buffer above 128 KiB is mapped and unmapped anew — measured here, a single-threaded worker then
  explains the same paragraphs about 35 % slower than a single-threaded ``explain_corpus`` in the driver.
* a worker that dies mid-chunk loses only that chunk: the scheduler reruns the task on another worker
  (``retries`` further attempts after the scheduler's own reassignments), and since chunks are written
  atomically, a half-finished chunk never appears on disk.

Needs the ``scale`` extra (``pip install 'explaining-bert[scale]'``); nothing in the course imports this.
"""

from __future__ import annotations

import copy
import ctypes
import os
import sys
import uuid

RETRIES = 3  # extra attempts per chunk task (on top of the scheduler re-running tasks of workers that died)
# glibc's mallopt parameters, and the values its adaptive mmap threshold grows to on a 64-bit machine
# (DEFAULT_MMAP_THRESHOLD_MAX; the trim threshold then follows at twice that).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2**20
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD


def tune_allocator(environ=None, libc=None) -> bool:
    """Undo, in this process, what Dask's ``MALLOC_TRIM_THRESHOLD_`` does to torch's CPU speed; True if it did.

    Setting any glibc malloc threshold switches its *adaptive* mmap threshold off, so each allocation above
    128 KiB — every activation tensor of a forward pass — gets fresh pages from the kernel and returns them
    when freed, page faults included. Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536`` for every worker
    (``distributed.nanny.pre-spawn-environ``) to hand unused memory back to the system sooner. Where that
    variable is set and the C library is glibc, this sets the mmap threshold to 32 MiB and the trim threshold to
    64 MiB (where the adaptive rule ends up), so buffers are reused; a worker may then keep up to 64 MiB of
    freed memory before it trims. Elsewhere (no such variable, macOS, musl) it does nothing.
    """
    environ = os.environ if environ is None else environ
    if "MALLOC_TRIM_THRESHOLD_" not in environ or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6") if libc is None else libc
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


def _plugin_base():
    try:
        from distributed import WorkerPlugin
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise ImportError(
            "explain_corpus(client=…) needs Dask: pip install 'explaining-bert[scale]'"
        ) from exc
    return WorkerPlugin


class ModelPlugin(_plugin_base()):
    """Holds a (tokenizer, model) pair on every worker: sent once per worker, not once per task.

    Args:
        tokenizer, model: what the tasks use; the model is moved to ``device`` on the worker.
        device: ``"auto"`` (default: the worker's first CUDA GPU if it has one — its own GPU when each worker
            sees one, e.g. via ``CUDA_VISIBLE_DEVICES`` — else the CPU), or ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ….
        torch_threads: ``torch.set_num_threads`` on the worker (default: the worker's thread count, 1 in a
            ``threads_per_worker=1`` cluster, so workers do not fight over cores).
        allocator: True (default) runs :func:`tune_allocator` on the worker; False keeps Dask's setting.
    """

    def __init__(
        self,
        tokenizer,
        model,
        device: str = "auto",
        torch_threads: int | None = None,
        allocator: bool = True,
    ):
        on_cpu = next(model.parameters()).device.type == "cpu"
        self.tokenizer = tokenizer  # the driver's model stays where it is; a CPU copy travels to the workers
        self.model = model if on_cpu else copy.deepcopy(model).to("cpu")
        self.device = device
        self.torch_threads = torch_threads
        self.allocator = allocator
        self.allocator_tuned = False

    def __getstate__(self) -> dict:
        # The model travels as (class, config, weights), not as the module: once transformers has run a forward
        # that records outputs (attentions, hidden states) it leaves forward hooks on the modules whose closures
        # reach a ContextVar, which no pickler can send. Weights are copied exactly, so scores are identical.
        state = dict(self.__dict__)
        model = state.pop("model")
        dtype = next(model.parameters()).dtype
        weights = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
        state["_model_parts"] = (type(model), model.config, dtype, weights)
        return state

    def __setstate__(self, state: dict) -> None:
        cls, config, dtype, weights = state.pop("_model_parts")
        model = cls(config).to(dtype)
        model.load_state_dict(weights)
        self.__dict__.update(state, model=model.eval())

    def setup(self, worker) -> None:
        import torch

        threads = (
            self.torch_threads or getattr(worker.state, "nthreads", None) or getattr(worker, "nthreads", 1)
        )
        torch.set_num_threads(int(threads))
        if getattr(self, "allocator", True):
            self.allocator_tuned = tune_allocator()
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = self.model.to(device).eval()


def plugin_name(weights: str) -> str:
    """The worker-plugin name for a model whose weights' checksum is ``weights``
    (:func:`course_utils.corpus.model_fingerprint`): one per distinct model."""
    return f"explaining-bert-model-{weights}"


def _chunk_task(name: str, work, *args) -> int:
    """On a worker: ``work(model, tokenizer, *args)`` with the model and tokenizer of the plugin ``name``."""
    from distributed import get_worker

    plugin = get_worker().plugins[name]
    return work(plugin.model, plugin.tokenizer, *args)


def run_chunks(client, model, tokenizer, work, chunks: dict[int, tuple], *, weights: str, key: str):
    """Submit one task per chunk; yield each chunk's index as its task finishes (any order).

    Args:
        client: a ``dask.distributed.Client``.
        model, tokenizer: sent to every worker once (:class:`ModelPlugin`).
        work: runs one chunk on a worker as ``work(model, tokenizer, *chunks[index])`` and returns ``index``;
            a module-level function, so Dask sends it by name (``course_utils.corpus`` passes its chunk
            writer; this module imports nothing of the corpus).
        chunks: chunk index → the rest of ``work``'s arguments.
        weights: the model's weights checksum (names the worker plugin).
        key: the run's cache key (names the tasks).

    An interruption (Ctrl-C) cancels the tasks not yet finished; the chunks already written stay.
    """
    from distributed import as_completed

    name = plugin_name(weights)
    client.register_plugin(ModelPlugin(tokenizer, model), name=name)
    run = uuid.uuid4().hex[:8]
    futures = [
        client.submit(
            _chunk_task,
            name,
            work,
            *args,
            key=f"explain-chunk-{key}-{index:05d}-{run}",
            pure=False,
            retries=RETRIES,
        )
        for index, args in chunks.items()
    ]
    try:
        for future in as_completed(futures):
            yield future.result()
    except BaseException:
        client.cancel(futures)
        raise
