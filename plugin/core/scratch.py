"""Temporary files of a run, kept where a killed run's leftovers can be found and removed.

Every temporary file or folder a process writes beside an output lives in one hidden folder of
that process, `.sitewatch-run-<pid>-<start>` (start: the process's start time where the system
tells it, so that a recycled pid is not taken for the owner). Writing into a folder first
removes the run folders there whose process is gone (a run killed by SIGTERM or SIGKILL, a
crash), and a run's folder is removed as soon as it is empty."""
from __future__ import annotations

import logging
import os
import shutil
import threading
from collections import Counter
from typing import Optional

LOG = logging.getLogger(__name__)

PREFIX = ".sitewatch-run-"
_lock = threading.Lock()
_users: dict[str, Counter] = {}  # run folder -> its users in this process (thread id -> count)


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), else ""."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _alive(pid: int, start: str) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except OSError:
        return False
    return start in ("", "0") or _start_time(pid) in ("", start)


def _owner(name: str) -> Optional[tuple[int, str]]:
    """(pid, start) of a run folder's name, None for other names."""
    parts = name[len(PREFIX):].split("-")
    if not name.startswith(PREFIX) or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1] if len(parts) > 1 else ""


def sweep(folder: str) -> list[str]:
    """Removes the run folders in `folder` whose process is gone; their paths."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        owner = _owner(name)
        if owner is None or _alive(*owner):
            continue
        path = os.path.join(folder, name)
        shutil.rmtree(path, ignore_errors=True)
        if not os.path.exists(path):
            removed.append(path)
            LOG.info("Removed the temporary files of an interrupted run: %s", path)
    return removed


def run_folder(folder: str) -> str:
    """This process's hidden folder for temporary files beside outputs in `folder` (made, and
    `folder`'s stale run folders removed, on first use). Each call is matched by one release()
    of a path inside it, on the same thread: the folder goes when its last user has released it."""
    folder = os.path.abspath(folder)
    os.makedirs(folder, exist_ok=True)
    pid = os.getpid()
    path = os.path.join(folder, f"{PREFIX}{pid}-{_start_time(pid) or '0'}")
    with _lock:
        if not os.path.isdir(path):
            sweep(folder)
            os.makedirs(path, exist_ok=True)
        _users.setdefault(path, Counter())[threading.get_ident()] += 1
    return path


def release(path: Optional[str]) -> None:
    """Ends one use of the run folder holding `path` (or `path` itself when it is one); the
    folder is removed when no thread of this process uses it and it is empty."""
    if not path:
        return
    folder = path if os.path.basename(path).startswith(PREFIX) else os.path.dirname(path)
    if not os.path.basename(folder).startswith(PREFIX):
        return
    with _lock:
        users = _users.get(folder, Counter())
        if users[threading.get_ident()] > 0:
            users[threading.get_ident()] -= 1
        if +users:  # another run of this process writes there
            return
        _users.pop(folder, None)
        try:
            os.rmdir(folder)
        except OSError:  # not empty, or gone
            pass
