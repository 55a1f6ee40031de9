"""Checks made before long work: every output can be written, no two outputs (or an output and
an input) are the same file, and the disk has room."""
from __future__ import annotations

import os
import shutil
import uuid
from typing import Mapping, Optional

from .errors import InputError


def same_file_key(path: str) -> str:
    """A comparable form of a path (absolute, links resolved, case folded where the file system
    ignores case)."""
    key = os.path.realpath(os.path.abspath(os.path.expanduser(path)))
    return os.path.normcase(key)


def check_distinct(outputs: Mapping[str, str], inputs: Optional[Mapping[str, str]] = None) -> None:
    """InputError when two outputs share a path, or an output would overwrite an input."""
    seen: dict[str, str] = {}
    for label, path in outputs.items():
        if not path:
            continue
        key = same_file_key(path)
        if key in seen:
            raise InputError(f"{seen[key]} and {label} are the same file ({path}): give each output its own path.")
        seen[key] = label
    for label, path in (inputs or {}).items():
        if path and same_file_key(path) in seen:
            raise InputError(f"{seen[same_file_key(path)]} would overwrite the input {label} ({path}): "
                             f"choose another output path.")


def _existing_ancestor(folder: str) -> str:
    while folder and not os.path.exists(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


def check_writable(outputs: Mapping[str, str], min_free_bytes: int = 0) -> None:
    """InputError unless each output's folder exists or can be made, a file can be created there,
    an existing output can be replaced, and (min_free_bytes) the disk has that much room."""
    for label, path in outputs.items():
        if not path:
            continue
        path = os.path.abspath(os.path.expanduser(path))
        folder = os.path.dirname(path)
        if os.path.isdir(path):
            raise InputError(f"{label} ({path}) is a folder: give a file name.")
        base = _existing_ancestor(folder)
        if not os.path.isdir(base):
            raise InputError(f"The folder of {label} cannot be made: {base} is a file, not a folder.")
        made = not os.path.isdir(folder)  # made by the run, in `base`: can a file be made there?
        target = base if made else folder
        probe = os.path.join(target, f".sitewatch-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        try:
            with open(probe, "wb"):
                pass
        except OSError as exc:
            where = f"the folder {folder} cannot be made in {base}" if made else f"{folder} is not writable"
            raise InputError(f"{label} cannot be written: {where} ({exc.strerror or exc}). Choose a folder you "
                             f"can write to.") from None
        finally:
            try:
                os.remove(probe)
            except OSError:
                pass
        if min_free_bytes > 0:
            free = shutil.disk_usage(target).free
            if free < min_free_bytes:
                raise InputError(f"Only {free / 1e6:.0f} MB free on the disk of {target}; {label} needs about "
                                 f"{min_free_bytes / 1e6:.0f} MB: free some space or choose another disk.")


def check_outputs(outputs: Mapping[str, str], inputs: Optional[Mapping[str, str]] = None,
                  min_free_bytes: int = 0) -> None:
    """check_distinct then check_writable."""
    check_distinct(outputs, inputs)
    check_writable(outputs, min_free_bytes)
