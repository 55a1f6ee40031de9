"""GDAL, OGR and OSR raise Python exceptions inside SiteWatch's own calls, and only there.

The core relies on exceptions (a bad file raises, it does not return None), but the switch
(`gdal.UseExceptions()`) is process-wide: flipped at import, it would change the behaviour of
every other plugin in the QGIS process. Each public entry of the core that calls GDAL runs
inside `gdal_exceptions()` (a context manager and a decorator); the caller's setting comes
back when the last SiteWatch call ends. Nested and concurrent calls (a QgsTask beside the
panel) share one count, so an inner call never switches exceptions off under an outer one.
(GDAL before 3.7 keeps one flag per process: while a SiteWatch call runs, other code in the
process sees exceptions on too.)
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import Iterator

from osgeo import gdal, ogr, osr

LOG = logging.getLogger(__name__)
_MODULES = (gdal, ogr, osr)
_lock = threading.Lock()
_depth = 0
_saved: tuple[bool, ...] = ()


@contextmanager
def gdal_exceptions() -> Iterator[None]:
    """GDAL, OGR and OSR errors raise RuntimeError inside the block (or decorated function)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = tuple(bool(module.GetUseExceptions()) for module in _MODULES)
            for module, enabled in zip(_MODULES, _saved):
                if not enabled:
                    module.UseExceptions()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:  # GDAL wants its error handlers popped in reverse order
                for module, enabled in reversed(list(zip(_MODULES, _saved))):
                    if not enabled:
                        try:
                            module.DontUseExceptions()
                        except RuntimeError as exc:  # another handler pushed on top meanwhile
                            LOG.warning("GDAL exceptions left on: %s", exc)
