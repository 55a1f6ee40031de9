"""The review history: append-only decisions, the state derived from them, undo and redo."""
from __future__ import annotations

import hashlib

import pytest
from osgeo import ogr
from review_helpers import registered

from sitewatch.plugin.core.pipeline import LAYER_AFTER, LAYER_BEFORE, LAYER_COUNTS, LAYER_REGIONS
from sitewatch.plugin.store.review import SCHEMA_VERSION, ReviewStoreError
from sitewatch.plugin.store.review_analysis import LAYER_MACHINE_COUNTS, LAYER_REVIEWED
from sitewatch.plugin.store.review_session import QueueFilter, ReviewSession
from sitewatch.plugin.store.review_state import derive


def _machine_rows(gpkg: str) -> str:
    ds = ogr.Open(gpkg)
    digest = hashlib.sha256()
    for name in (LAYER_REGIONS, LAYER_BEFORE, LAYER_AFTER):
        for f in ds.GetLayerByName(name):
            digest.update(repr((f.GetFID(), f.items(), f.GetGeometryRef().ExportToWkt())).encode())
    return digest.hexdigest()


def _counts(gpkg: str) -> dict:
    ds = ogr.Open(gpkg)
    return {f.GetField("class"): f.items() for f in ds.GetLayerByName(LAYER_COUNTS)}


def test_machine_output_is_the_first_entry_and_is_never_altered(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    before_review = _machine_rows(gpkg)
    assert store.schema_version() == SCHEMA_VERSION
    session = ReviewSession(store, analysis_id, gpkg)
    first = session.state.detections()[0]
    history = store.history(first.object_id)
    assert [d.action for d in history] == ["detected"]
    assert history[0].new_class == first.obj.machine_class and history[0].new_wkt == first.obj.machine_wkt
    assert history[0].reviewer == "machine"
    session.relabel(first.object_id, "truck")
    session.reject(session.state.regions()[0].object_id, "shadow")
    assert _machine_rows(gpkg) == before_review
    assert [d.action for d in store.history(first.object_id)] == ["detected", "relabel"]
    ds = ogr.Open(gpkg)
    assert ds.GetLayerByName(LAYER_MACHINE_COUNTS).GetFeatureCount() > 0
    assert ds.GetLayerByName(LAYER_REVIEWED).GetFeatureCount() == len(session.state.objects)


def test_decisions_drive_state_counts_and_progress(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    session = ReviewSession(store, analysis_id, gpkg)
    total = session.state.total
    machine = {c.class_name: (c.before, c.after) for c in session.state.counts}
    assert session.state.progress_text() == f"0 of {total} reviewed"
    after = [s for s in session.state.detections() if s.obj.side == "after"]
    target = after[0]
    cls = target.class_name
    session.reject(target.object_id)
    assert session.state.by_id()[target.object_id].status == "rejected"
    counts = {c.class_name: c for c in session.state.counts}
    assert counts.get(cls) is None and machine[cls][1] == 1 or counts[cls].after == machine[cls][1] - 1
    assert session.state.progress_text() == f"1 of {total} reviewed"
    written = _counts(gpkg)
    assert (written.get(cls, {}).get("after") or 0) == machine[cls][1] - 1
    # relabel another after object: it moves from one class's count to the other's
    other = after[1]
    old_cls = other.class_name
    session.relabel(other.object_id, "pantsir")
    counts = {c.class_name: c for c in session.state.counts}
    assert counts["pantsir"].after >= 1
    assert sum(c.after for c in session.state.counts) == len(after) - 1
    assert _counts(gpkg)["pantsir"]["reviewed"] >= 1
    assert (counts[old_cls].after if old_cls in counts else 0) == machine[old_cls][1] - 1 - (old_cls == cls)
    # an added object on the after date arrives, and counts
    first = session.state.detections()[0]
    wkt = _shifted_box(first.wkt, 400.0)
    session.add("after", "truck", wkt)
    added = [s for s in session.state.objects if s.obj.added]
    assert len(added) == 1 and added[0].event == "arrived" and added[0].status == "accepted"
    assert {c.class_name: c for c in session.state.counts}["truck"].arrived >= 1


def _shifted_box(wkt: str, dx: float) -> str:
    geom = ogr.CreateGeometryFromWkt(wkt)
    ring = geom.GetGeometryRef(0)
    pts = [(ring.GetX(k) + dx, ring.GetY(k)) for k in range(ring.GetPointCount())]
    return "POLYGON((" + ", ".join(f"{x} {y}" for x, y in pts) + "))"


def test_undo_and_redo_append_and_never_delete(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    session = ReviewSession(store, analysis_id, gpkg)
    s = session.state.detections()[0]
    session.reject(s.object_id)
    session.edit_geometry(s.object_id, _shifted_box(s.wkt, 2.0))
    n = len(store.decisions(analysis_id=analysis_id))
    session.undo()
    assert session.state.by_id()[s.object_id].wkt == s.wkt
    assert session.state.by_id()[s.object_id].status == "rejected"
    session.undo()
    assert session.state.by_id()[s.object_id].status == "pending"
    session.redo()
    assert session.state.by_id()[s.object_id].status == "rejected"
    assert session.undo() is not None and session.undo() is None
    actions = [d.action for d in store.history(s.object_id)]
    assert actions == ["detected", "reject", "edit_geometry", "undo", "undo", "redo", "undo"]
    assert len(store.decisions(analysis_id=analysis_id)) == n + 4
    assert all(d.reviewer for d in store.history(s.object_id)) and all(d.time for d in store.history(s.object_id))
    # an undone addition leaves the reviewed state (its history stays)
    session.add("before", "truck", _shifted_box(s.wkt, 300.0))
    assert any(o.obj.added for o in session.state.objects)
    session.undo()
    assert not any(o.obj.added for o in session.state.objects)
    assert len([o for o in store.objects(analysis_id) if o.added]) == 1


def test_queue_filters_and_sorts_by_uncertainty(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    session = ReviewSession(store, analysis_id, gpkg)
    queue = session.queue()
    assert len(queue) == session.state.total
    assert [s.uncertainty for s in queue] == sorted((s.uncertainty for s in queue), reverse=True)
    regions = session.queue(QueueFilter(side="region"))
    assert regions and all(s.obj.kind == "region" for s in regions)
    before = session.queue(QueueFilter(side="before", min_score=0.5))
    assert all(s.obj.side == "before" and s.obj.score >= 0.5 for s in before)
    session.accept(before[0].object_id)
    assert [s.object_id for s in session.queue(QueueFilter(status="accepted"))] == [before[0].object_id]
    event = queue[0].event or "stayed"
    assert all(s.event == event for s in session.queue(QueueFilter(event=event)))
    with pytest.raises(ReviewStoreError, match="reason"):
        session.reject(regions[0].object_id, "aliens")


def test_a_second_store_sees_every_decision_and_registration_happens_once(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    session = ReviewSession(store, analysis_id, gpkg)
    for s in session.queue()[:5]:
        session.accept(s.object_id)
    again, _, _ = registered(analysis_copy, site)  # a new store on the same file (QGIS reopened)
    state = derive(again, analysis_id)
    assert state.reviewed == 5
    assert len(again.objects(analysis_id)) == len(store.objects(analysis_id))


def test_unreviewed_state_has_the_machine_counts_and_events(analysed_site, analysis_copy):
    site, _ = analysed_site
    machine = _counts(str(analysis_copy / "analysis.gpkg"))
    store, analysis_id, gpkg = registered(analysis_copy, site)
    state = derive(store, analysis_id)
    derived = {c.class_name: c for c in state.counts}
    assert set(derived) == set(machine)
    for name, row in machine.items():
        for key in ("before", "after", "arrived", "departed", "stayed", "moved"):
            assert getattr(derived[name], key) == row[key], (name, key)
    assert all(s.event == s.obj.machine_event for s in state.detections())
