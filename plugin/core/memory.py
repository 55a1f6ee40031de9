"""Hands memory that numpy freed back to the system between the passes of a long run.

glibc keeps freed blocks in its heaps (one per thread that allocated), so the arrays of a
finished pass (the fit's sample tiles, the thread pool's work) stay in the process's
resident memory and the next pass's peak lands on top of them. malloc_trim returns them."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from typing import Callable, Optional

_trim: Optional[Callable[[int], int]] = None
_looked = False


def _malloc_trim() -> Optional[Callable[[int], int]]:
    global _trim, _looked
    if not _looked:
        _looked = True
        if sys.platform.startswith("linux"):
            try:
                _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
            except (OSError, AttributeError):  # not glibc (musl): nothing to do
                _trim = None
    return _trim


def release_free_memory() -> bool:
    """Returns freed heap memory to the system (glibc); False where there is no such call
    (Windows and macOS allocators return large blocks by themselves)."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
