"""Atomic writes to the caches, and the sweep of what an interrupted writer left behind.

Every cached entry (a fine-tuned classifier, a corpus chunk, a command-line output table) is written into a
temporary sibling and renamed into place, so an interruption leaves the old entry or none, never half of one.
A writer killed with SIGKILL (or by the out-of-memory killer, or a Dask nanny) cannot remove its temporary:
the temporary's name therefore records who wrote it — ``.tmp-<name>-<host>-<pid>-<random>`` — so that a later
run on the same host can tell a dead writer's leftover (its process no longer exists) from a save in progress
(its process is alive) and remove only the former. Temporaries are never read, so a leftover costs disk space,
never a wrong result.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

#: a leftover written on another host (a cluster's shared file system) is removed once it is this old
#: (seconds): its writer's process cannot be looked up from here, and a write takes seconds, not hours.
FOREIGN_TEMPORARY_AGE = 6 * 3600


def _host() -> str:
    """This host's name as it appears in a temporary's name (no ``-``, which separates the fields)."""
    return socket.gethostname().replace("-", "_") or "host"


def temporary_path(target: Path, suffix: str = "") -> Path:
    """A fresh temporary sibling of ``target``: ``.tmp-<target name>-<host>-<pid>-<8 hex digits><suffix>``."""
    return target.parent / f".tmp-{target.name}-{_host()}-{os.getpid()}-{uuid.uuid4().hex[:8]}{suffix}"


def write_atomically(folder: Path, write: Callable[[Path], object]) -> None:
    """Create ``folder`` all at once: ``write(tmp)`` fills a temporary sibling, which is then renamed.

    An interruption (Ctrl-C, crash, full disk) leaves the old ``folder`` or none, never a half-written one; a
    SIGKILL during ``write`` leaves the temporary, which :func:`remove_stale_temporaries` removes later.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(folder)
    try:
        write(tmp)
        if folder.exists():  # replace a stale entry: move it aside first, then swap in the new one
            trash = temporary_path(folder.parent / f"old-{folder.name}")
            os.replace(folder, trash)
            os.replace(tmp, folder)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def replace_file(path: Path, write: Callable[[Path], object]) -> None:
    """Write one file atomically: ``write(tmp)`` writes a temporary file next to ``path``, renamed onto it."""
    tmp = temporary_path(path, suffix=path.suffix)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            tmp.unlink()


def replace_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` as indented JSON with sorted keys, atomically (:func:`replace_file`).

    What JSON cannot hold (a dtype, a path) is written as its ``repr``: these files describe a run for people.
    """
    text = json.dumps(data, indent=2, sort_keys=True, default=repr)
    replace_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def _writer(name: str) -> tuple[str, int] | None:
    """``(host, pid)`` from a temporary's name, or None for a name in the older form (no writer recorded)."""
    parts = name.split("-")
    if len(parts) < 5:
        return None
    host, pid = parts[-3], parts[-2]
    return (host, int(pid)) if pid.isdigit() else None


def is_stale(path: Path, now: float | None = None) -> bool:
    """Whether the temporary ``path`` was left by a writer that is gone.

    Same host: its recorded process no longer exists. Another host: it is older than
    :data:`FOREIGN_TEMPORARY_AGE`. A name without a writer (older versions) counts as another host's.
    """
    writer = _writer(path.name)
    if writer is not None and writer[0] == _host():
        return not _pid_alive(writer[1])
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except OSError:
        return False
    return age > FOREIGN_TEMPORARY_AGE


def remove_stale_temporaries(parent: Path) -> list[Path]:
    """Remove the ``.tmp-*`` entries in ``parent`` whose writer is gone (:func:`is_stale`); return them.

    A writer that is still running keeps its temporary. Silent where ``parent`` is missing or read-only.
    """
    try:
        candidates = sorted(Path(parent).glob(".tmp-*"))
    except OSError:
        return []
    removed = []
    for path in candidates:
        if not is_stale(path):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink()
            except OSError:
                pass
        if not os.path.lexists(path):
            removed.append(path)
    return removed
