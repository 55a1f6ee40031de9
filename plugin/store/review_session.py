"""One analyst's review of one analysis: decisions, undo and redo, the queue, and the reviewed
layers kept current after every decision. QGIS-free; the review panel only calls it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..core.equipment.catalogue import Catalogue, load_catalogue
from .review import REGION_REASONS, Decision, ReviewStore, ReviewStoreError
from .review_analysis import write_reviewed_outputs
from .review_state import ObjectState, ReviewState, derive


@dataclass
class QueueFilter:
    """Which objects the queue shows; empty values show all."""

    side: str = ""  # before | after | region ('' all)
    class_name: str = ""
    event: str = ""
    status: str = ""  # pending | accepted | rejected
    min_score: float = 0.0
    max_score: float = 1.0

    def keeps(self, s: ObjectState) -> bool:
        side = s.obj.side or "region"
        return ((not self.side or side == self.side) and (not self.class_name or s.class_name == self.class_name)
                and (not self.event or s.event == self.event) and (not self.status or s.status == self.status)
                and self.min_score <= float(s.obj.score) <= self.max_score)


class ReviewSession:
    def __init__(self, store: ReviewStore, analysis_id: str, gpkg_path: str = "", catalogue: Optional[Catalogue] = None):
        self.store = store
        self.analysis_id = analysis_id
        self.gpkg_path = gpkg_path
        self.catalogue = catalogue or load_catalogue()
        self.outputs_problem = ""
        self.undo_stack: list[int] = []
        self.redo_stack: list[int] = []
        self.state: ReviewState = derive(store, analysis_id, self.catalogue)

    # ------------------------------------------------------------ reading
    def queue(self, filters: Optional[QueueFilter] = None) -> list[ObjectState]:
        """Objects to review, most uncertain first (then by id, so the order is stable)."""
        filters = filters or QueueFilter()
        kept = [s for s in self.state.objects if filters.keeps(s)]
        return sorted(kept, key=lambda s: (-s.uncertainty, s.object_id))

    def get(self, object_id: str) -> ObjectState:
        found = self.state.by_id().get(object_id)
        if found is None:
            raise ReviewStoreError(f"No object '{object_id}' in this analysis's review.")
        return found

    # ------------------------------------------------------------ decisions
    def accept(self, object_id: str) -> Decision:
        s = self.get(object_id)
        return self._after(self.store.append(object_id, "accept", s.class_name, s.class_name))

    def reject(self, object_id: str, reason: str = "") -> Decision:
        if reason and reason not in REGION_REASONS:
            raise ReviewStoreError(f"Unknown false-alarm reason '{reason}' (use {', '.join(REGION_REASONS)}).")
        s = self.get(object_id)
        return self._after(self.store.append(object_id, "reject", s.class_name, s.class_name, reason=reason))

    def relabel(self, object_id: str, class_name: str) -> Decision:
        s = self.get(object_id)
        return self._after(self.store.append(object_id, "relabel", s.class_name, class_name))

    def edit_geometry(self, object_id: str, wkt: str) -> Decision:
        s = self.get(object_id)
        return self._after(self.store.append(object_id, "edit_geometry", s.class_name, s.class_name, s.wkt, wkt))

    def note(self, object_id: str, text: str) -> Decision:
        return self._after(self.store.append(object_id, "note", note=text))

    def add(self, side: str, class_name: str, wkt: str) -> Decision:
        """A missed object on the before or after capture."""
        entry = self.store.analysis(self.analysis_id)
        raster = "" if entry is None else (entry.before_path if side == "before" else entry.after_path)
        crs = next((s.obj.crs_wkt for s in self.state.objects if s.obj.crs_wkt), "")
        _obj, decision = self.store.add_object(self.analysis_id, side, class_name, wkt, raster, crs)
        return self._after(decision)

    def undo(self) -> Optional[Decision]:
        """Cancel this session's last decision in force (an 'undo' entry; the decision stays in the history)."""
        if not self.undo_stack:
            return None
        target = self.undo_stack[-1]
        decision = self.store.append(self._object_of(target), "undo", target=target)
        self.undo_stack.pop()
        self.redo_stack.append(target)
        self.refresh()
        return decision

    def redo(self) -> Optional[Decision]:
        if not self.redo_stack:
            return None
        target = self.redo_stack[-1]
        decision = self.store.append(self._object_of(target), "redo", target=target)
        self.redo_stack.pop()
        self.undo_stack.append(target)
        self.refresh()
        return decision

    def _object_of(self, seq: int) -> str:
        return next(d.object_id for d in self.store.decisions(analysis_id=self.analysis_id) if d.seq == seq)

    def _after(self, decision: Decision) -> Decision:
        self.undo_stack.append(decision.seq)
        self.redo_stack.clear()
        self.refresh()
        return decision

    def refresh(self) -> ReviewState:
        """Derive the state again and rewrite the analysis's reviewed layers and counts.

        The decisions are already committed: when the analysis file cannot be written, that is
        said in `outputs_problem` (the layers catch up at the next decision that can write)."""
        self.state = derive(self.store, self.analysis_id, self.catalogue)
        self.outputs_problem = ""
        if self.gpkg_path:
            try:
                write_reviewed_outputs(self.gpkg_path, self.state)
            except (ReviewStoreError, RuntimeError) as exc:
                self.outputs_problem = (f"The decision is saved, but the analysis layers in {self.gpkg_path} "
                                        f"could not be updated: {exc}")
        return self.state
