"""Where the course runs: Colab or not, GPU or CPU, online or offline, R or no R; seeds and the cache folder.

Taught in notebook 00 (start here). Every notebook's setup cell calls :func:`setup`.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import random
import shutil
import socket
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

HUB_HOST = "huggingface.co"
R_INSTALL_HINT = (
    "Colab: R is already there. Debian/Ubuntu: sudo apt-get install --no-install-recommends r-base-core "
    "r-cran-ggplot2 r-cran-dplyr r-cran-tidyr r-cran-broom r-cran-broom.mixed r-cran-lme4. "
    "conda: conda install -c conda-forge r-base r-ggplot2 r-dplyr r-tidyr r-broom r-broom.mixed r-lme4. "
    "Then: RPY2_CFFI_MODE=ABI pip install 'explaining-bert[r]'"
)


@dataclass
class EnvironmentReport:
    """What :func:`setup` found. ``str(report)`` is the short table printed by the setup cell."""

    seed: int
    device: str
    gpu_name: str | None
    in_colab: bool
    hub_reachable: bool
    r_available: bool
    r_message: str
    cache_dir: str
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def offline(self) -> bool:
        """True when the Hugging Face hub cannot be used (the packaged model is used instead)."""
        return not self.hub_reachable

    def as_dict(self) -> dict:
        """The report as a plain dictionary (for logging or a DataFrame)."""
        return asdict(self) | {"offline": self.offline}

    def __str__(self) -> str:
        gpu = f" ({self.gpu_name})" if self.gpu_name else ""
        lines = [
            f"seed            {self.seed} (python, numpy, torch; deterministic algorithms on)",
            f"device          {self.device}{gpu}",
            f"Colab           {'yes' if self.in_colab else 'no'}",
            f"model hub       {'reachable' if self.hub_reachable else 'offline: using the packaged MiniLM'}",
            f"R + rpy2        {'ready' if self.r_available else 'not available: ' + self.r_message}",
            f"cache           {self.cache_dir}",
            "versions        " + ", ".join(f"{k} {v}" for k, v in self.versions.items()),
        ]
        return "\n".join(lines)


def in_colab() -> bool:
    """True inside Google Colab (the ``google.colab`` module is importable there and only there)."""
    return importlib.util.find_spec("google") is not None and importlib.util.find_spec("google.colab") is not None


def get_device() -> "torch.device":  # noqa: F821
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


def r_status() -> tuple[bool, str]:
    """Whether R and rpy2 can be used, and if not, why (with the command that installs them)."""
    if shutil.which("R") is None and not os.environ.get("R_HOME"):
        return False, f"no `R` on PATH. {R_INSTALL_HINT}"
    if importlib.util.find_spec("rpy2") is None:
        return False, "R is installed but rpy2 is not: RPY2_CFFI_MODE=ABI pip install 'explaining-bert[r]'"
    try:
        start_r()
    except Exception as exc:  # rpy2 raises many kinds of errors when R is broken
        return False, f"rpy2 could not start R ({type(exc).__name__}: {exc}). {R_INSTALL_HINT}"
    return True, "ready"


def start_r() -> None:
    """Start the embedded R (``import rpy2.robjects``) without leaking R's settings to child processes.

    R's start-up puts ``/usr/lib/x86_64-linux-gnu`` (Debian) on ``LD_LIBRARY_PATH``; a Python started later
    from this process (a Jupyter kernel, ``!pip``) would then load the system's libpython and fail to import
    ``ssl``. The variable is restored once R runs; R itself has already loaded its libraries.
    """
    os.environ.setdefault("RPY2_CFFI_MODE", "ABI")
    saved = os.environ.get("LD_LIBRARY_PATH")
    try:
        import rpy2.robjects  # noqa: F401  (starts the embedded R)
    finally:
        if saved is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = saved


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


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "captum"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def setup(seed: int = 42, *, check_r: bool = True, check_hub: bool = True, verbose: bool = True) -> EnvironmentReport:
    """Prepare a notebook: seeds, device, Colab/offline/R detection, the cache folder; print a short report.

    Args:
        seed: seed for python, numpy and torch (default 42).
        check_r: try to start R through rpy2 and look for the course's R packages (about a second).
        check_hub: probe the model hub (at most ~2 s; skipped when ``HF_HUB_OFFLINE=1``).
        verbose: print the report.

    Returns:
        EnvironmentReport with ``device``, ``in_colab``, ``hub_reachable``/``offline``, ``r_available`` …
    """
    seed_everything(seed)
    device = get_device()
    gpu_name = None
    if device.type == "cuda":
        import torch

        gpu_name = torch.cuda.get_device_name(0)
    if check_r:
        from .r_bridge import r_check  # R, rpy2 and the R packages the course uses

        r_ok, r_message = r_check()
    else:
        r_ok, r_message = False, "not checked"
    report = EnvironmentReport(
        seed=seed,
        device=str(device),
        gpu_name=gpu_name,
        in_colab=in_colab(),
        hub_reachable=hub_reachable() if check_hub else False,
        r_available=r_ok,
        r_message=r_message,
        cache_dir=str(cache_dir()),
        versions=_versions(),
    )
    if verbose:
        print(report)
    return report

