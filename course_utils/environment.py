"""Where the code runs: Colab or not, GPU or CPU, online or offline; seeds and the cache folder.

The library's runtime helpers (``models``, ``corpus``, ``benchmarking`` … use them). R and rpy2 are detected in
:mod:`course_utils.r_bridge`; the course's ``setup()`` — the report every notebook's setup cell prints — is in
:mod:`course_utils.course.environment` (``from course_utils import setup``). Taught in notebook 00 (start here).
"""

from __future__ import annotations

import importlib.util
import os
import random
import socket
import sys
import threading
from pathlib import Path

import numpy as np

HUB_HOST = "huggingface.co"


def in_colab() -> bool:
    """True inside Google Colab (the ``google.colab`` module is importable there and only there)."""
    return (
        importlib.util.find_spec("google") is not None
        and importlib.util.find_spec("google.colab") is not None
    )


def get_device() -> torch.device:  # noqa: F821
    """The device tensors should live on: the first CUDA GPU if there is one, else the CPU."""
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def cache_dir() -> Path:
    """The folder for fine-tuned models and corpus attributions (created if missing).

    ``COURSE_CACHE`` wins; else ``$XDG_CACHE_HOME/explaining-bert`` (``~/.cache/explaining-bert``), or
    ``%LOCALAPPDATA%/explaining-bert`` on Windows.
    """
    if os.environ.get("COURSE_CACHE"):
        path = Path(os.environ["COURSE_CACHE"]).expanduser()
    elif sys.platform.startswith("win") and os.environ.get("LOCALAPPDATA"):
        path = Path(os.environ["LOCALAPPDATA"]) / "explaining-bert"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        path = Path(base) / "explaining-bert"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def hub_reachable(timeout: float = 1.5) -> bool:
    """Whether the Hugging Face hub answers, decided within ``timeout`` seconds and never hanging.

    ``HF_HUB_OFFLINE=1`` (or ``TRANSFORMERS_OFFLINE=1``) means offline without trying the network.
    The DNS look-up and TCP connection run in a daemon thread so a dead resolver cannot block the caller.
    """
    if _env_flag("HF_HUB_OFFLINE") or _env_flag("TRANSFORMERS_OFFLINE"):
        return False
    result = {"ok": False}

    def probe() -> None:
        try:
            with socket.create_connection((HUB_HOST, 443), timeout=timeout):
                result["ok"] = True
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return result["ok"]


def seed_everything(seed: int = 42) -> None:
    """Seed python, numpy and torch, and ask torch for deterministic algorithms (CPU and CUDA)."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # needed by deterministic cuBLAS
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
        torch.backends.cudnn.benchmark = False


#: names that lived here before issue 16 → where they are now (``from course_utils import setup`` still works)
_MOVED = {
    "setup": "course_utils.course.environment",
    "EnvironmentReport": "course_utils.course.environment",
    "r_status": "course_utils.r_bridge",
    "start_r": "course_utils.r_bridge",
    "R_INSTALL_HINT": "course_utils.r_bridge",
}


def __getattr__(name: str):
    from .compat import moved_attribute  # the moved names still work, with a DeprecationWarning (one release)

    return moved_attribute(__name__, _MOVED, name)
