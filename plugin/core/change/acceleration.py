"""Optional compiled kernels for the default change method (numba).

numba is not part of QGIS: when it imports, StructureContext scores blocks, and the after
capture is resampled, with the kernels of compiled.py (scoring about 4x faster, a whole run on
a large pair about 1.5x; the same scores to 1e-4); otherwise numpy does the same work.
Kernels compile on first use (about 20 s, once) and are cached on disk. Setting the
environment variable SITEWATCH_NO_COMPILED=1 forces the numpy path."""
from __future__ import annotations

import logging
import os
import threading
import time
from types import ModuleType
from typing import Optional

from ..deps import INSTALLER_HINT

DISABLE_ENV = "SITEWATCH_NO_COMPILED"
HOW_TO_INSTALL = f"pip install numba, in the Python that QGIS uses (the OSGeo4W Shell on Windows), {INSTALLER_HINT}"

LOADER_NAME = "sitewatch-kernels-import"
LOG = logging.getLogger(__name__)
_lock = threading.Lock()
_warm_lock = threading.Lock()
_state: dict = {}
_loader: list[threading.Thread] = []  # preload's thread, joined by settle()


def _switched_off() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip() not in ("", "0")


def kernels() -> Optional[ModuleType]:
    """The compiled kernels module, or None (numba missing or broken, or switched off)."""
    if _switched_off():
        return None
    with _lock:
        if "module" not in _state:
            try:
                from . import compiled
            except ModuleNotFoundError as exc:
                _state["module"], _state["reason"] = None, "" if exc.name == "numba" else f"{exc}"
            except Exception as exc:  # a broken numba, or one that does not match this numpy
                _state["module"], _state["reason"] = None, f"{type(exc).__name__}: {exc}"
            else:
                _state["module"], _state["reason"] = compiled, ""
        return _state["module"]


def preload() -> None:
    """Starts importing numba (about half a second) and loading the kernels from the disk cache
    (about a fifth) on a background thread, so that a run's first stages hide them; kernels()
    and warm_up() wait for it when they are needed. The run that calls it calls settle() when it
    ends, whatever the outcome: a load left running while the process exits (a run that failed
    early) crashes the interpreter's shutdown inside numba. The thread is not a daemon, so an
    interpreter exiting waits for it too."""
    if _switched_off() or "module" in _state:
        return
    with _lock:
        if _loader and _loader[0].is_alive():
            return
        thread = threading.Thread(target=_load, name=LOADER_NAME, daemon=False)
        _loader[:] = [thread]
        thread.start()


def settle() -> None:
    """Waits for preload()'s thread to finish (at once when none runs)."""
    thread = _loader[0] if _loader else None
    if thread is not None and thread is not threading.current_thread():
        thread.join()


def _load() -> None:
    module = kernels()
    if module is not None and _cached(module):
        warm_up()


def _cached(module: ModuleType) -> bool:
    """Whether every kernel has numba's disk cache (loading takes a fraction of a second; compiling
    about 20 s). preload's thread only loads: a compile runs on the calling thread when scoring
    needs it, so that a run ending early (an error, a cancel) never waits for one in settle()."""
    try:
        from numba.core.registry import CPUDispatcher

        kernels_ = [k for k in vars(module).values() if isinstance(k, CPUDispatcher)]
        return bool(kernels_) and all(os.path.exists(k._cache._cache_file._index_path) for k in kernels_)
    except Exception:  # a numba whose cache looks otherwise: load on the calling thread
        return False


def advice() -> str:
    """What a user could do for faster change scoring, one line; "" when the compiled kernels
    are in use or switched off on purpose."""
    if _switched_off():
        return ""
    if kernels() is not None:
        return ""
    if _state.get("reason"):
        return f"numba is installed but its change kernels are unusable ({_state['reason']}); numpy scored instead."
    return f"Change detection runs about 1.5x faster with numba: {HOW_TO_INSTALL}."


def describe() -> str:
    """One line for logs and run summaries: which path scores, and how to get the faster one."""
    if _switched_off():
        return f"Change scoring: numpy ({DISABLE_ENV} is set)."
    if kernels() is None:
        return f"Change scoring: numpy. {advice()}"
    import numba

    return f"Change scoring: compiled kernels (numba {numba.__version__})."


def warm_up() -> float:
    """Compiles (or loads from the disk cache) every kernel on a tiny block; seconds taken.
    Called before the scoring pool starts (by preload's thread, and on the calling thread, which
    waits for that one), so that no worker waits."""
    with _warm_lock:  # a warm-up already under way (preload) is waited for, not repeated
        module = kernels()
        if module is None or _state.get("warm"):
            return 0.0
        start = time.perf_counter()
        try:
            module.warm_up()
        except Exception as exc:  # a numba that cannot compile them: numpy does the work instead
            LOG.warning("Compiled change kernels unusable, numpy scores instead", exc_info=True)
            with _lock:
                _state["module"], _state["reason"] = None, f"{type(exc).__name__}: {exc}"
            return 0.0
        _state["warm"] = True
        return time.perf_counter() - start
