"""The dock's site timeline: counts over every analysed date, the change of each pair, open on double-click."""
from __future__ import annotations

from osgeo import ogr, osr

from sitewatch.plugin.store.workspace import AnalysisRecord


def _analysis(path, counts: dict, regions_m2: list[float]) -> str:
    """An analysis GeoPackage with the counts table and change regions the pipeline writes."""
    from sitewatch.plugin.core.pipeline import LAYER_COUNTS, LAYER_REGIONS

    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32636)
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    table = ds.CreateLayer(LAYER_COUNTS, geom_type=ogr.wkbNone)
    for name, kind in (("class", ogr.OFTString), ("before", ogr.OFTInteger), ("after", ogr.OFTInteger)):
        table.CreateField(ogr.FieldDefn(name, kind))
    for cls, (b, a) in counts.items():
        f = ogr.Feature(table.GetLayerDefn())
        f.SetField("class", cls)
        f.SetField("before", b)
        f.SetField("after", a)
        table.CreateFeature(f)
    regions = ds.CreateLayer(LAYER_REGIONS, srs, ogr.wkbPolygon)
    for k, area in enumerate(regions_m2):
        side = area ** 0.5
        f = ogr.Feature(regions.GetLayerDefn())
        f.SetGeometry(ogr.CreateGeometryFromWkt(
            f"POLYGON(({k * 100} 0, {k * 100 + side} 0, {k * 100 + side} {side}, {k * 100} {side}, {k * 100} 0))"))
        regions.CreateFeature(f)
    ds = None
    return str(path)


def _not_a_geopackage(path):
    path.write_text("not a GeoPackage")
    return path


def test_timeline_widget_shows_every_date_and_opens_a_pair(qgis_app, tmp_path, test_output_dir):
    from sitewatch.plugin.gui.timeline_widget import SiteTimelineWidget

    records = [
        AnalysisRecord("a1", "2024-12-14T10:00:00+00:00", "T1", "/b.tif", "/a.tif", "2024-12-09", "2024-12-13",
                       _analysis(tmp_path / "1.gpkg", {"il76": (0, 2), "mi8": (2, 2)}, [100.0, 44.0])),
        AnalysisRecord("a2", "2024-12-19T10:00:00+00:00", "T2", "/a.tif", "/c.tif", "2024-12-13", "2024-12-18",
                       _analysis(tmp_path / "2.gpkg", {"il76": (2, 3), "mi8": (2, 1)}, [25.0])),
        AnalysisRecord("gone", "2024-12-20T10:00:00+00:00", "T3", "/c.tif", "/d.tif", "2024-12-18", "2024-12-23",
                       str(tmp_path / "missing.gpkg")),
        AnalysisRecord("broken", "2024-12-21T10:00:00+00:00", "T4", "/c.tif", "/d.tif", "2024-12-18", "2024-12-23",
                       str(_not_a_geopackage(tmp_path / "broken.gpkg"))),
    ]
    widget = SiteTimelineWidget()
    widget.set_records("Khmeimim", records)
    assert widget.note.isHidden() and not widget.chart.isHidden() and widget.chart.renderer().isValid()
    assert widget.pairs.rowCount() == 2
    assert widget.pairs.item(0, 0).text() == "2024-12-09 → 2024-12-13"
    assert widget.pairs.item(0, 1).text() == "144" and widget.pairs.item(0, 2).text() == "2 → 4"
    assert widget.pairs.item(1, 2).text() == "4 → 4"
    widget.resize(420, 460)
    assert widget.grab().save(str(test_output_dir / "timeline_widget.png"))
    opened = []
    widget.openRequested.connect(opened.append)
    widget.pairs.cellDoubleClicked.emit(1, 2)
    assert opened == ["a2"]
    widget.set_records("Khmeimim", [])
    assert not widget.note.isHidden() and widget.pairs.rowCount() == 0


def test_timeline_from_analyses_counts_per_date(tmp_path):
    from sitewatch.plugin.core.timeline import timeline_from_analyses

    records = [AnalysisRecord("a1", "2024-12-14T10:00:00+00:00", "T1", "/b.tif", "/a.tif", "2024-12-09",
                              "2024-12-13", _analysis(tmp_path / "1.gpkg", {"il76": (0, 2), "an124": (1, 1)}, []))]
    timeline, pairs = timeline_from_analyses("Khmeimim", records)
    assert [(c.date, c.counts) for c in timeline.captures] == [
        ("2024-12-09", {"heavy transport": 1}), ("2024-12-13", {"heavy transport": 3})]
    assert pairs[0].changed_area_m2 == 0.0


def test_reviewed_analyses_mark_their_dates(tmp_path):
    from sitewatch.plugin.core.pipeline import LAYER_COUNTS
    from sitewatch.plugin.core.timeline import reviewed_share, timeline_from_analyses
    from sitewatch.plugin.core.timeline_chart import timeline_svg

    gpkg = _analysis(tmp_path / "1.gpkg", {"il76": (0, 2)}, [])
    ds = ogr.Open(gpkg, 1)
    counts = ds.GetLayerByName(LAYER_COUNTS)
    for name in ("reviewed", "objects"):  # as the review history writes them
        counts.CreateField(ogr.FieldDefn(name, ogr.OFTInteger))
    feature = counts.GetNextFeature()
    feature.SetField("reviewed", 1)
    feature.SetField("objects", 2)
    counts.SetFeature(feature)
    ds = None
    records = [AnalysisRecord("a1", "2024-12-14T10:00:00+00:00", "T1", "/b.tif", "/a.tif", "2024-12-09",
                              "2024-12-13", gpkg),
               AnalysisRecord("a2", "2024-12-19T10:00:00+00:00", "T2", "/a.tif", "/c.tif", "2024-12-13",
                              "2024-12-18", _analysis(tmp_path / "2.gpkg", {"il76": (2, 3)}, []))]
    assert reviewed_share(gpkg) == (1, 2) and reviewed_share(records[1].gpkg_path) is None
    timeline, _pairs = timeline_from_analyses("Khmeimim", records)
    assert [(c.date, c.reviewed) for c in timeline.captures] == [
        ("2024-12-09", True), ("2024-12-13", False), ("2024-12-18", False)]  # 12-13: the newer, unreviewed run
    assert timeline_svg(timeline).count('class="reviewed"') == 1
