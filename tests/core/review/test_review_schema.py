"""The review tables live in the site workspace beside its layers, with a schema version."""
from __future__ import annotations

import sqlite3

import pytest
from osgeo import ogr
from review_helpers import registered

from sitewatch.plugin.store.review import SCHEMA_VERSION, ReviewStore, ReviewStoreError
from sitewatch.plugin.store.review_session import ReviewSession
from sitewatch.plugin.store.workspace import AnalysisRecord, SiteWorkspace

SQUARE = "POLYGON((0 0,100 0,100 100,0 100,0 0))"


def test_review_tables_share_the_site_workspace_with_its_layers(analysed_site, analysis_copy):
    site, _ = analysed_site
    workspace = SiteWorkspace.create(str(analysis_copy.parent.parent), "sample", SQUARE, "")
    workspace.add_analysis(AnalysisRecord(analysis_copy.name, "2024-12-13T00:00:00", "t", str(site.before),
                                          str(site.after), "2024-12-09", "2024-12-13", str(analysis_copy / "analysis.gpkg")))
    store, analysis_id, gpkg = registered(analysis_copy, site, workspace=analysis_copy.parent.parent / "workspace.gpkg")
    assert store.path == workspace.path
    ReviewSession(store, analysis_id, gpkg).accept(store.objects(analysis_id)[0].object_id)
    # the workspace's own layers read as before; the review tables are not layers
    assert [r.id for r in workspace.analyses()] == [analysis_copy.name] and workspace.site()[0] == "sample"
    ds = ogr.Open(workspace.path)
    assert {ds.GetLayer(k).GetName() for k in range(ds.GetLayerCount())} == {"site", "analyses"}
    workspace.set_capture_date("before.tif", "before", "2024-12-09")  # OGR writes still work
    assert store.integrity() == "ok" and len(store.decisions()) == len(store.objects()) + 1


def test_a_new_workspace_gets_the_current_schema_and_a_newer_one_is_refused(tmp_path):
    store = ReviewStore(str(tmp_path / "workspace.gpkg"))
    with pytest.raises(ReviewStoreError, match="does not exist"):
        store.decisions()  # reading creates nothing
    assert not (tmp_path / "workspace.gpkg").exists()
    store.add_objects("import_x", [("", "car", "POLYGON((0 0,4 0,4 2,0 2,0 0))", "", "")])
    assert store.schema_version() == SCHEMA_VERSION
    with sqlite3.connect(store.path) as con:
        con.execute("UPDATE review_meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(ReviewStoreError, match="newer SiteWatch"):
        ReviewStore(store.path).decisions()
