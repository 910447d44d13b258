"""The course's environment check: :func:`setup`, the first call of every notebook, and the report it prints.

Taught in notebook 00 (start here). Every notebook's setup cell runs ``from course_utils import setup`` then
``setup()``: seeds, device, Colab, offline state, R — and for a missing optional piece, the command that
installs it. The checks themselves are library functions (:mod:`course_utils.environment` for device, seeds,
hub and cache; :mod:`course_utils.r_bridge` for R); this module only runs them in the course's order and
prints the table.
"""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field

from ..environment import cache_dir, get_device, hub_reachable, in_colab, seed_everything

__all__ = ["EnvironmentReport", "setup"]


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


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "captum"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def setup(
    seed: int = 42, *, check_r: bool = True, check_hub: bool = True, verbose: bool = True
) -> EnvironmentReport:
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
        from ..r_bridge import r_check  # R, rpy2 and the R packages the course uses

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
