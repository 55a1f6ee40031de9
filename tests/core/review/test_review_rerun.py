"""A re-run of an analysis keeps the decisions made on the objects it finds again."""
from __future__ import annotations

import shutil

from osgeo import ogr
from review_helpers import registered

from sitewatch.plugin.core.pipeline import LAYER_AFTER, LAYER_BEFORE, LAYER_REGIONS
from sitewatch.plugin.store.review_analysis import register_analysis
from sitewatch.plugin.store.review_session import ReviewSession
from sitewatch.plugin.store.review_state import derive


def _rerun_copy(analysis, new_id: str, shift_m: float, drop_after_fid: int):
    """The analysis as a new run would write it: its own folder (the history's ids name it), boxes a
    little off, one detection not found."""
    folder = analysis.parent / new_id
    shutil.copytree(analysis, folder)
    ds = ogr.Open(str(folder / "analysis.gpkg"), 1)
    for name in (LAYER_REGIONS, LAYER_BEFORE, LAYER_AFTER):
        layer = ds.GetLayerByName(name)
        for f in list(layer):
            if name == LAYER_AFTER and f.GetFID() == drop_after_fid:
                layer.DeleteFeature(f.GetFID())
                continue
            geom = f.GetGeometryRef().Clone()
            ring = geom.GetGeometryRef(0)
            for k in range(ring.GetPointCount()):
                ring.SetPoint_2D(k, ring.GetX(k) + shift_m, ring.GetY(k) - shift_m)
            f.SetGeometry(geom)
            layer.SetFeature(f)
    ds = None
    return folder


def test_a_rerun_carries_reviewed_decisions_over(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    session = ReviewSession(store, analysis_id, gpkg)
    after = [s for s in session.state.detections() if s.obj.side == "after"]
    rejected, relabelled, accepted, dropped = after[0], after[1], after[2], after[3]
    region = session.state.regions()[0]
    session.reject(rejected.object_id)
    session.relabel(relabelled.object_id, "pantsir")
    session.accept(accepted.object_id)
    session.accept(dropped.object_id)
    session.reject(region.object_id, "cloud")
    session.add("after", "truck", _moved(after[4].wkt, 250.0))
    reviewed_before = derive(store, analysis_id).reviewed

    drop_fid = int(dropped.object_id.rsplit(":", 1)[1])
    new_id = "20240102T000000_def456"
    rerun = _rerun_copy(analysis_copy, new_id, 0.4, drop_fid)
    result = register_analysis(store, new_id, str(rerun / "analysis.gpkg"), str(site.before), str(site.after),
                               "2024-12-09", "2024-12-13")
    assert result.registered and result.carried == 5  # 3 found again + the region + the added object
    state = derive(store, new_id)
    by_old = {s.object_id.replace(new_id, analysis_id): s for s in state.objects}
    assert by_old[rejected.object_id].status == "rejected"
    assert by_old[relabelled.object_id].class_name == "pantsir" and by_old[relabelled.object_id].reviewed
    assert by_old[accepted.object_id].status == "accepted"
    assert by_old[region.object_id].status == "rejected" and by_old[region.object_id].reason == "cloud"
    added = [s for s in state.objects if s.obj.added]
    assert len(added) == 1 and added[0].class_name == "truck" and added[0].event == "arrived"
    assert all("carried over from" in d.note for d in store.decisions(analysis_id=new_id)
               if d.action not in ("detected",))
    # the earlier analysis keeps its own history untouched
    assert derive(store, analysis_id).reviewed == reviewed_before
    # registering the same analysis again changes nothing
    assert not register_analysis(store, new_id, str(rerun / "analysis.gpkg")).registered
    assert derive(store, new_id).reviewed == state.reviewed == 5


def _moved(wkt: str, dx: float) -> str:
    geom = ogr.CreateGeometryFromWkt(wkt)
    ring = geom.GetGeometryRef(0)
    return "POLYGON((" + ", ".join(f"{ring.GetX(k) + dx} {ring.GetY(k)}" for k in range(ring.GetPointCount())) + "))"
