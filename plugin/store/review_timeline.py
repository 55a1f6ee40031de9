"""The reviewed detections of a site's captures, for the timeline (QGIS-free).

    source = reviewed_detections_source(workspace_path)   # None: nothing reviewed
    TimelineParameters(..., reviewed=source)

A capture counts as reviewed when an analysis of the site's review history that shows it has
at least one decision; its reviewed detections are those not rejected, with the class and box
the analyst left. The newest reviewed analysis of a capture wins.
"""
from __future__ import annotations

import os
from typing import Callable, Optional, Sequence

from ..core.equipment.detection import Detection
from .review import ReviewStore, ReviewStoreError
from .review_state import STATUS_REJECTED, _detection, derive


def _key(path: str) -> str:
    return os.path.normcase(os.path.abspath(path)) if path else ""


def reviewed_detections_source(workspace_path: str) -> Optional[Callable[[str, str], Optional[Sequence[Detection]]]]:
    """(raster path, ISO date) -> the reviewed detections of that capture, or None where it was not
    reviewed; None when the site has no review history (or it cannot be read)."""
    store = ReviewStore(workspace_path)
    by_capture: dict[str, list[Detection]] = {}
    try:
        entries = store.analyses()  # oldest first: newer reviews overwrite
        for entry in entries:
            state = derive(store, entry.analysis_id)
            if not state.reviewed:
                continue
            for side, path in (("before", entry.before_path), ("after", entry.after_path)):
                by_capture[_key(path)] = [_detection(s) for s in state.detections()
                                          if s.obj.side == side and s.status != STATUS_REJECTED and s.wkt]
    except ReviewStoreError:
        return None
    if not by_capture:
        return None
    return lambda path, _date: by_capture.get(_key(path))
