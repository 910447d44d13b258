"""A simulated Colab runtime for CI: Colab's Python and package versions, its `google.colab` module, its setup cell.

    python .ci/colab_runtime.py build   # the venv (reused while its key matches), printed on the last line
    python .ci/colab_runtime.py setup   # every notebook's setup cell as written (git URL -> this checkout), timed
    python .ci/colab_runtime.py test    # unit tests and every notebook under nbval, in the simulated runtime
    python .ci/colab_runtime.py all     # the three, in order (what .ci/run calls)

What it rebuilds from ../shared/colab/ (Colab's published lists, see its README):
- Python 3.13 (Colab: 3.13.15; here the newest 3.13 found, `COLAB_PYTHON` to choose one).
- Colab's versions of the packages the course meets (BASE below and everything they pull in), pinned by a
  constraint file made from `pip-freeze.txt`: its `torch …+cpu` wheel URL becomes `torch==2.11.0` (PyPI's CUDA
  build, which runs on the CPU), the `nvidia-*` pins are left to torch (Colab's CPU list pins CUDA-13 ones that
  torch 2.11 does not use), and lines pip cannot install from a registry (`@ file://`, `@ git+…`) are dropped.
- A stand-in `google.colab` (.ci/colab/google/colab), imported by the kernel before the first cell as Colab's
  kernel does (IPython `exec_lines`), not by `!python` subprocesses.
- R: Debian's R stands in for Colab's R 4.6, with Colab's rpy2 (3.5.17, built in ABI mode).

`setup` fails when the install changes the version of any package the runtime had (Colab's torch, numpy, pandas,
ipywidgets and IPython among them) or leaves `pip check` unhappy, and prints each setup cell's time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("COLAB_INFO", ROOT.parent / "shared" / "colab"))
STUB = ROOT / ".ci" / "colab"
# The packages of Colab's runtime that the course touches or that constrain what it may install (diffusers and
# gradio pin huggingface-hub below 2.0); pip adds their dependencies, all at Colab's versions.
BASE = (
    "torch",
    "transformers",
    "tokenizers",
    "huggingface_hub",
    "safetensors",
    "accelerate",
    "sentence-transformers",
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "scikit-learn",
    "scikit-image",
    "matplotlib",
    "shap",
    "numba",
    "tqdm",
    "ipywidgets",
    "widgetsnbextension",
    "ipython",
    "ipykernel",
    "jupyter_client",
    "jupyter_server",
    "notebook",
    "nbclient",
    "nbconvert",
    "nbformat",
    "traitlets",
    "pytest",
    "rpy2",
    "diffusers",
    "gradio",
)
# Test tooling Colab lacks (installed after the setup cells, at versions that fit Colab's): nbval, and Dask's
# distributed for tests/test_scale.py (Colab has dask itself).
TOOLS = ("nbval==0.11.0", "distributed")
BUILD_VERSION = 1  # bump when build() changes what it puts into the venv
PROTECTED = (
    "torch",
    "numpy",
    "pandas",
    "ipywidgets",
    "ipython",
    "ipykernel",
    "transformers",
    "huggingface-hub",
)


def _cache_root() -> Path:
    base = os.environ.get("COLAB_RUNTIME_CACHE") or Path.home() / ".cache" / "explaining-bert-ci"
    return Path(base)


def constraints() -> str:
    """The constraint file: Colab's CPU pip freeze, made installable from PyPI (see the module docstring)."""
    lines = []
    for line in (SHARED / "pip-freeze.txt").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name = re.split(r"[=@ ]", line, maxsplit=1)[0].strip().lower().replace("_", "-")
        if name.startswith("nvidia-"):
            continue
        if name == "torch":
            version = re.search(r"torch-([\d.]+)", line)
            if not version:
                raise SystemExit(f"cannot read torch's version from {line!r} in {SHARED / 'pip-freeze.txt'}")
            lines.append(f"torch=={version.group(1)}")
            continue
        if " @ " in line:
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def key() -> str:
    """Hash of everything the venv is built from: the constraints (Colab's list), BASE, the stand-in module."""
    digest = hashlib.sha256(constraints().encode() + repr(BASE).encode() + f"v{BUILD_VERSION}".encode())
    for path in sorted(STUB.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def venv_dir() -> Path:
    return _cache_root() / f"colab-{key()}"


def _python313() -> str:
    if os.environ.get("COLAB_PYTHON"):
        return os.environ["COLAB_PYTHON"]
    candidates = [shutil.which("python3.13")]
    pyenv = shutil.which("pyenv")
    if pyenv:
        root = subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip()
        candidates += sorted(Path(root, "versions").glob("3.13*/bin/python"), reverse=True)
    for c in candidates:
        if (
            c
            and subprocess.run(
                [str(c), "-c", "import sys; assert sys.version_info[:2] == (3, 13)"], capture_output=True
            ).returncode
            == 0
        ):
            return str(c)
    raise SystemExit("no Python 3.13 found: install one or set COLAB_PYTHON=/path/to/python3.13")


def _site_packages(venv: Path) -> Path:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(out.stdout.strip())


def env(venv: Path) -> dict[str, str]:
    """The environment the simulated runtime's processes run with."""
    # As the Makefile sets them: no model hub in CI (Colab reaches it, but nothing in the course needs it),
    # headless figures, torch and BLAS kept to the 2 cores.
    out = {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "2",
    } | dict(os.environ)
    out.update(
        VIRTUAL_ENV=str(venv),
        PATH=f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        IPYTHONDIR=str(venv / "ipython"),
        RPY2_CFFI_MODE="ABI",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PYTHONNOUSERSITE="1",
    )
    out.pop("PYTHONPATH", None)
    # The course site and the explorer app are not Colab features: their browser tests (which need the `site`
    # extra) may skip here, while the main job requires them.
    out.pop("COURSE_REQUIRE_BROWSER", None)
    out.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # ipykernel 6's debugger note on Python 3.13
    return out


def _run(cmd: list[str], venv: Path, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, env=env(venv), check=True, **kw)


def build() -> Path:
    """Create (or reuse) the venv; its last line of output is its path."""
    venv = venv_dir()
    if (venv / ".complete").exists():
        print(f"reusing the simulated Colab runtime {venv}")
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    subprocess.run([_python313(), "-m", "venv", str(venv)], check=True)
    (venv / "colab-constraints.txt").write_text(constraints())
    py = str(venv / "bin" / "python")
    _run([py, "-m", "pip", "install", "-q", "-c", str(venv / "colab-constraints.txt"), *BASE], venv)
    shutil.copytree(STUB / "google", _site_packages(venv) / "google", dirs_exist_ok=True)
    profile = venv / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    # Colab's kernel imports google.colab before the first cell; a `!python` subprocess does not.
    (profile / "ipython_kernel_config.py").write_text(
        'c.InteractiveShellApp.exec_lines = ["import google.colab"]\n'
    )
    _run([py, "-m", "pip", "check"], venv)
    (venv / "freeze-colab.txt").write_text(_freeze(venv))
    (venv / ".complete").write_text(f"built in {time.perf_counter() - start:.0f} s\n")
    print(f"built the simulated Colab runtime in {time.perf_counter() - start:.0f} s: {venv}")
    return venv


def _freeze(venv: Path) -> str:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
        env=env(venv),
    ).stdout
    return "".join(f"{p['name'].lower().replace('_', '-')}=={p['version']}\n" for p in json.loads(out))


def _versions(freeze: str) -> dict[str, str]:
    return dict(line.split("==", 1) for line in freeze.splitlines() if "==" in line)


def setup_cell_sources() -> dict[str, str]:
    """Each notebook's first code cell, with the install URL pointing at this checkout."""
    import nbformat

    sys.path.insert(0, str(ROOT))
    from course_utils.notebook_tools import INSTALL_RE

    out = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        source = next(c.source for c in nb.cells if c.cell_type == "code")
        if not INSTALL_RE.search(source):
            raise SystemExit(f"{path.name}: its setup cell has no git install URL to replace")
        out[path.name] = INSTALL_RE.sub(f"file://{ROOT}", source)
    return out


def setup(venv: Path) -> dict[str, float]:
    """Run every notebook's setup cell as Colab would (google.colab imported first); return seconds per cell."""
    before = (venv / "freeze-colab.txt").read_text()
    _run([str(venv / "bin" / "python"), "-m", "pip", "uninstall", "-q", "-y", "explaining-bert"], venv)
    times = {}
    for name, source in setup_cell_sources().items():
        start = time.perf_counter()
        _run([str(venv / "bin" / "python"), "-c", "import google.colab\n" + source], venv, cwd=venv)
        times[name] = time.perf_counter() - start
        print(f"setup cell of {name}: {times[name]:.1f} s", flush=True)
    after = _versions(_freeze(venv))
    changed = {n: (v, after.get(n)) for n, v in _versions(before).items() if after.get(n) != v}
    added = sorted(n for n in after if n not in _versions(before))
    print("the setup cell installed:", ", ".join(f"{n} {after[n]}" for n in added) or "nothing")
    if changed:
        raise SystemExit(
            "the setup cell changed Colab's own packages: "
            + ", ".join(f"{n} {a} -> {b}" for n, (a, b) in sorted(changed.items()))
        )
    _run([str(venv / "bin" / "python"), "-m", "pip", "check"], venv)
    for name in PROTECTED:
        assert name in after, f"{name} is missing from the simulated runtime"
    (venv / "setup-times.json").write_text(json.dumps(times, indent=1))
    return times


def test(venv: Path, pytest_args: list[str] | None = None) -> int:
    """Unit tests and every notebook under nbval, with the simulated runtime's Python."""
    py = str(venv / "bin" / "python")
    _run([py, "-m", "pip", "install", "-q", "-c", str(venv / "colab-constraints.txt"), *TOOLS], venv)
    # -rs: the log lists every skip with its reason (Colab lacks the site extra; figures drawn with another
    # matplotlib are not byte-compared)
    args = pytest_args or ["-rs", "tests", "--nbval-lax", "--nbval-current-env", "notebooks"]
    print("+", py, "-m pytest", *args, flush=True)
    return subprocess.run(
        [py, "-m", "pytest", *args], env=env(venv) | {"COURSE_COLAB_SIM": "1"}, cwd=ROOT
    ).returncode


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "all"
    if command == "key":
        print(key())
        return 0
    venv = build()
    if command == "build":
        print(venv)
        return 0
    if command in ("setup", "all"):
        times = setup(venv)
        first, *later = times.values()
        print(f"setup cell: first notebook {first:.1f} s, later ones {max(later):.1f} s at most")
    if command in ("test", "all"):
        return test(venv, argv[1:] or None)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
