"""Detection engines behind one interface; each is imported only when asked for."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Optional, Protocol

from ...errors import InputError
from ...progress import Progress

if TYPE_CHECKING:
    from ..api import DetectionParameters
    from ..detection import Detection

# engine name -> "module:Class" (relative to this package)
ENGINES = {
    "exemplar": ".exemplar:ExemplarEngine",
    "learned": ".learned:LearnedEngine",
    "model": ".model:ModelEngine",
}


class DetectionEngine(Protocol):
    name: str

    def detect(self, params: "DetectionParameters", progress: Optional[Progress]) -> "list[Detection]":
        """Detections over params.raster (map coordinates of the raster's CRS)."""
        ...


def get_engine(name: str) -> DetectionEngine:
    """An instance of the named engine; InputError for an unknown name."""
    target = ENGINES.get((name or "").strip().lower())
    if target is None:
        raise InputError(f"Unknown detection engine '{name}'. Known engines: {', '.join(ENGINES)}")
    module_name, class_name = target.split(":")
    module = importlib.import_module(module_name, __name__)
    return getattr(module, class_name)()
