"""What a user reads when a run fails, and the log file that keeps the details.

Expected failures (the core's own errors, permissions, a full disk, missing files, data GDAL
cannot read, memory) become one sentence saying what to do. Anything else is a defect: its
traceback goes to the log file and the user reads a short message naming that file."""
from __future__ import annotations

import errno
import logging
import os
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Optional

from .errors import SiteWatchError
from .scratch import PREFIX

LOG = logging.getLogger(__name__)

LOG_FILE = "sitewatch.log"
LOG_DIR_ENV = "SITEWATCH_LOG_DIR"
_MAX_LOG_BYTES = 1_000_000

_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)
_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)
_MISSING = (errno.ENOENT, errno.ENOTDIR)
# GDAL reports through RuntimeError: its texts for the same situations
_GDAL_TEXTS = (
    (("permission denied", "read-only file system", "attempt to create", "not writable"), "denied"),
    (("no space left", "disk full", "free disk space"), "full"),
    (("io error writing", "error writing", "write error", "failed to write", "writeblock failed", "short write",
      "could not write"), "write"),
    ((PREFIX,), "write"),  # a temporary file of the run read back broken: it was not written whole
    (("no such file or directory", "does not exist"), "missing"),
    (("not recognized as a supported file format", "not recognised as being in a supported file format",
      "tiffreaddirectory", "ireadblock failed", "truncated", "corrupt", "failed to read"), "unreadable"),
)


@dataclass
class Failure:
    message: str  # one or two sentences for the user
    expected: bool  # False: a defect, logged with its traceback


def _what(exc: BaseException) -> str:
    name = getattr(exc, "filename", None)
    return f" ({os.path.basename(str(name)) or name})" if name else ""


def _sentence(kind: str, exc: BaseException) -> str:
    detail = _what(exc) or (f" ({str(exc).strip()[:200]})" if not isinstance(exc, OSError) else "")
    return {
        "denied": f"Permission denied{detail}: choose an output folder you can write to, or make the file "
                  "writable (and readable for inputs).",
        "full": f"The disk is full{detail}: free some space or write the outputs to another disk.",
        "missing": f"A file or folder does not exist{detail}: check the path (it may have been moved or "
                   "deleted).",
        "write": f"Writing the outputs failed{detail}: the disk is probably full (or the folder went away). "
                 "Free some space or write the outputs to another disk.",
        "unreadable": f"GDAL cannot read the data{detail}: the file is damaged or not in a format it knows.",
    }[kind]


def describe_failure(exc: BaseException) -> Failure:
    """The message for `exc` and whether the failure was an expected one."""
    if isinstance(exc, SiteWatchError):
        return Failure(str(exc), True)
    if isinstance(exc, MemoryError):
        return Failure("Not enough memory for this run: close other programs, or analyse a smaller area "
                       "(an area of interest).", True)
    if isinstance(exc, OSError) and exc.errno is not None:
        for codes, kind in ((_DENIED, "denied"), (_FULL, "full"), (_MISSING, "missing")):
            if exc.errno in codes:
                return Failure(_sentence(kind, exc), True)
    if isinstance(exc, (OSError, RuntimeError)):
        text = str(exc).lower()
        for needles, kind in _GDAL_TEXTS:
            if any(n.lower() in text for n in needles):
                return Failure(_sentence(kind, exc), True)
    return Failure(f"Unexpected error ({type(exc).__name__}: {str(exc)[:300]})", False)


def log_dir(default: Optional[str] = None) -> str:
    """The folder of the log file: $SITEWATCH_LOG_DIR, else `default` (the QGIS profile's
    sitewatch folder, given by the QGIS side), else ~/.sitewatch."""
    return os.environ.get(LOG_DIR_ENV) or default or os.path.join(os.path.expanduser("~"), ".sitewatch")


def record_failure(exc: BaseException, where: str, folder: Optional[str] = None) -> str:
    """Appends `exc` with its traceback to the log file; the file's path ("" when it cannot be written)."""
    folder = log_dir(folder)
    path = os.path.join(folder, LOG_FILE)
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        os.makedirs(folder, exist_ok=True)
        if os.path.exists(path) and os.path.getsize(path) > _MAX_LOG_BYTES:
            os.replace(path, path + ".1")
        with open(path, "a", encoding="utf-8") as f:
            f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {where} (pid {os.getpid()})\n{text}\n")
    except OSError:
        LOG.info("%s failed:\n%s", where, text)  # the log file cannot be written: the logging keeps it
        return ""
    LOG.info("%s failed; the details are in %s", where, path)
    return path


@contextmanager
def unraisable_to_log(where: str, folder: Optional[str] = None) -> Iterator[None]:
    """Errors Python cannot raise (a GDAL dataset failing to close in its destructor, on a full
    disk) go to the log file during the block, not to the console as a traceback."""
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if unraisable.exc_value is not None:
            record_failure(unraisable.exc_value, f"{where} (ignored while cleaning up)", folder)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def user_message(exc: BaseException, where: str, folder: Optional[str] = None) -> str:
    """describe_failure's message; for an unexpected failure, logged, with where the details are."""
    failure = describe_failure(exc)
    if failure.expected:
        return failure.message
    path = record_failure(exc, where, folder)
    return f"{failure.message}. The details are in {path}." if path else f"{failure.message}."
