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


def test_recording_a_rerun_carries_the_decisions_at_once(analysed_site, analysis_copy):
    from types import SimpleNamespace

    from sitewatch.plugin.store.history import record_analysis
    from sitewatch.plugin.store.review_analysis import LAYER_MACHINE_COUNTS

    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    session = ReviewSession(store, analysis_id, gpkg)
    after = [s for s in session.state.detections() if s.obj.side == "after"]
    session.reject(after[0].object_id)
    rerun = _rerun_copy(analysis_copy, "20240103T000000_ghi789", 0.3, -1)
    params = SimpleNamespace(before_path=str(site.before), after_path=str(site.after), before_date="2024-12-09",
                             after_date="2024-12-13", change=SimpleNamespace(sensitivity=0.5))
    result = SimpleNamespace(params=params, change=None, output_dir=str(rerun), title="rerun",
                             gpkg_path=str(rerun / "analysis.gpkg"), score_path="", summary_lines=[])
    record = record_analysis(store.path, result)
    state = derive(store, record.id)
    assert state.by_id()[after[0].object_id.replace(analysis_id, record.id)].status == "rejected"
    ds = ogr.Open(str(rerun / "analysis.gpkg"))
    assert ds.GetLayerByName(LAYER_MACHINE_COUNTS) is not None  # the counts table follows the carried decisions
    assert sum(f.GetField("reviewed") for f in ds.GetLayerByName("counts")) == 1


def test_recording_an_analysis_of_a_site_never_reviewed_adds_no_review_tables(analysed_site, analysis_copy, tmp_path):
    from types import SimpleNamespace

    from sitewatch.plugin.store.history import record_analysis
    from sitewatch.plugin.store.review import ReviewStore
    from sitewatch.plugin.store.workspace import SiteWorkspace

    site, _ = analysed_site
    workspace = SiteWorkspace.create(str(tmp_path / "site"), "s", "POLYGON((0 0,1 0,1 1,0 0))", "")
    params = SimpleNamespace(before_path=str(site.before), after_path=str(site.after), before_date="", after_date="",
                             change=SimpleNamespace(sensitivity=0.5))
    result = SimpleNamespace(params=params, change=None, output_dir=str(analysis_copy), title="t",
                             gpkg_path=str(analysis_copy / "analysis.gpkg"), score_path="", summary_lines=[])
    record_analysis(workspace.path, result)
    assert ReviewStore(workspace.path).schema_version() == 0
    assert ogr.Open(str(analysis_copy / "analysis.gpkg")).GetLayerByName("reviewed_objects") is None
