"""Site workspace GeoPackage and the project's raster layers as captures (files, VRTs, web layers)."""
from __future__ import annotations

import pytest
from osgeo import gdal, ogr
from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry, QgsProject, QgsRasterLayer

from analysis_fixtures import capture_pair, site_wkt, srs, write_capture


def test_workspace_round_trip(tmp_path):
    from sitewatch.plugin.store.workspace import AnalysisRecord, SiteWorkspace

    ws = SiteWorkspace.create(str(tmp_path / "base"), "Base", site_wkt(), srs().ExportToWkt())
    name, wkt, crs_wkt = ws.site()
    assert name == "Base" and ogr.CreateGeometryFromWkt(wkt).GetArea() == pytest.approx(90.0 * 90.0)
    assert "32636" in crs_wkt
    ws.set_capture_date("/data/a.tif", "a", "2024-01-02")
    ws.set_capture_date("/data/a.tif", "a", "2024-01-03")  # replaces, never duplicates
    ws.set_capture_date("layer-id-1", "XYZ tiles 2023", "2023-06-01")
    assert ws.capture_dates() == {"/data/a.tif": "2024-01-03", "layer-id-1": "2023-06-01"}
    ws.set_capture_date("layer-id-1", "XYZ tiles 2023", "")
    assert ws.capture_dates() == {"/data/a.tif": "2024-01-03"}
    for i, when in enumerate(("2024-05-01T10:00:00+00:00", "2024-05-02T10:00:00+00:00")):
        ws.add_analysis(AnalysisRecord(f"id{i}", when, f"T{i}", "/b.tif", "/a.tif", "2024-01-01", "2024-02-01",
                                       f"/out/{i}/analysis.gpkg", "", [f"line {i}", "x"], threshold=0.4 + i / 10))
    records = ws.analyses()
    assert [r.id for r in records] == ["id1", "id0"]  # newest first
    assert records[0].summary == ["line 1", "x"] and records[0].threshold == pytest.approx(0.5)
    assert records[1].label.startswith("2024-01-01 -> 2024-02-01")
    ws.remove_analysis("id0")
    assert [r.id for r in ws.analyses()] == ["id1"]


def test_workspace_write_is_all_or_nothing(tmp_path):
    from sitewatch.plugin.store.workspace import AnalysisRecord, SiteWorkspace

    ws = SiteWorkspace.create(str(tmp_path / "base"), "Base", site_wkt(), srs().ExportToWkt())
    bad = AnalysisRecord("id", "2024", "T", "b", "a", "", "", "g", summary=[object()])  # not JSON-serialisable
    with pytest.raises(TypeError):
        ws.add_analysis(bad)
    assert ws.analyses() == []


def test_missing_workspace_reads_empty(tmp_path):
    from sitewatch.plugin.store.workspace import SiteWorkspace

    ws = SiteWorkspace(str(tmp_path / "none" / "workspace.gpkg"))
    assert ws.analyses() == [] and ws.capture_dates() == {} and ws.site() is None
    assert not (tmp_path / "none").exists()


def test_captures_of_files_vrt_and_web_layers(qgis_app, qgis_new_project, tmp_path):
    from sitewatch.plugin.qgisio.captures import DATE_PROPERTY, set_user_date, site_captures

    before, after = capture_pair(tmp_path)
    vrt = tmp_path / "mosaic_2024-02-10.vrt"
    gdal.BuildVRT(str(vrt), [str(after)]).FlushCache()
    project = QgsProject.instance()
    for path in (before, after, vrt):
        project.addMapLayer(QgsRasterLayer(str(path), path.stem))
    web = QgsRasterLayer("type=xyz&url=http://127.0.0.1:9/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmax=19&zmin=0",
                         "Imagery 2023-11-20", "wms")
    assert web.isValid()
    project.addMapLayer(web)
    site = QgsGeometry.fromWkt(site_wkt())
    crs = QgsCoordinateReferenceSystem("EPSG:32636")
    caps = site_captures(site, crs)
    by_name = {c.name: c for c in caps}
    assert [c.name for c in caps] == ["Imagery 2023-11-20", "base_before", "mosaic_2024-02-10", "base_after"]
    assert by_name["Imagery 2023-11-20"].path is None and by_name["Imagery 2023-11-20"].date.source == "layer name"
    assert by_name["Imagery 2023-11-20"].coverage == pytest.approx(1.0)  # the world-wide XYZ layer covers the site
    assert by_name["mosaic_2024-02-10"].path == str(vrt) and by_name["mosaic_2024-02-10"].gsd_m == pytest.approx(0.5)
    assert by_name["base_before"].date.source == "TIFFTAG_DATETIME"

    # a date the user enters wins over the layer name and is kept on the layer
    set_user_date(web, "2023-12-24")
    assert web.customProperty(DATE_PROPERTY) == "2023-12-24"
    cap = {c.name: c for c in site_captures(site, crs)}["Imagery 2023-11-20"]
    assert cap.date.iso_date == "2023-12-24" and cap.date.source == "entered by user"
    with pytest.raises(ValueError):
        set_user_date(web, "someday")

    # a remembered workspace date applies when the layer carries none
    undated = QgsRasterLayer(str(write_capture(tmp_path / "scan.tif", 5)), "scan")
    project.addMapLayer(undated)
    caps = site_captures(site, crs, remembered={str(tmp_path / "scan.tif"): "2020-01-01"})
    assert caps[0].name == "scan" and caps[0].date.iso_date == "2020-01-01"


def test_partial_coverage_and_far_layers(qgis_app, qgis_new_project, tmp_path):
    from sitewatch.plugin.qgisio.captures import site_captures

    half = write_capture(tmp_path / "half.tif", 1, origin=(500050.0, 3800000.0))  # covers the east half
    far = write_capture(tmp_path / "far.tif", 1, origin=(900000.0, 3800000.0))
    for path in (half, far):
        QgsProject.instance().addMapLayer(QgsRasterLayer(str(path), path.stem))
    caps = site_captures(QgsGeometry.fromWkt(site_wkt()), QgsCoordinateReferenceSystem("EPSG:32636"))
    assert [c.name for c in caps] == ["half"]
    assert caps[0].coverage == pytest.approx(45.0 / 90.0)
    # a site in another CRS (WGS 84) still finds the capture
    geom = QgsGeometry.fromWkt(site_wkt())
    from qgis.core import QgsCoordinateTransform

    geom.transform(QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:32636"),
                                          QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance()))
    caps = site_captures(geom, QgsCoordinateReferenceSystem("EPSG:4326"))
    assert [c.name for c in caps] == ["half"] and caps[0].coverage == pytest.approx(0.5, abs=0.02)
