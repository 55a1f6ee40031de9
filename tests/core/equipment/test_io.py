"""Detections to OGR and back: fields, headings, extra fields, user polygons, atomic writes."""
from __future__ import annotations

import numpy as np
import pytest
from osgeo import ogr, osr

from sitewatch.plugin.core.equipment.detection import Detection
from sitewatch.plugin.core.equipment.io import min_area_rectangle, read_detections, write_detections
from sitewatch.plugin.core.errors import InputError


def _crs() -> str:
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32636)
    return srs.ExportToWkt()


def _dets():
    return [Detection(500010.0, 3500020.0, 40.0, 30.0, 250.0, "il76", 0.91, "exemplar", "2024-05-01"),
            Detection(500100.0, 3500020.0, 12.0, 3.0, 33.0, "truck", 0.4, "model", "2024-05-01")]


@pytest.mark.parametrize("name", ["out.gpkg", "out.geojson", "out.shp"])
def test_round_trip(tmp_path, name):
    path = str(tmp_path / name)
    write_detections(path, "detections", _dets(), _crs(), extra_fields={"event": ["stayed", "arrived"],
                                                                       "distance_m": [1.5, None]})
    back = read_detections(path)
    assert len(back) == 2
    for a, b in zip(_dets(), back):
        assert (b.class_name, b.engine, b.capture) == (a.class_name, a.engine, a.capture)
        assert b.score == pytest.approx(a.score)
        assert (b.cx, b.cy) == pytest.approx((a.cx, a.cy), abs=1e-3)
        assert (b.length_m, b.width_m, b.heading_deg) == pytest.approx((a.length_m, a.width_m, a.heading_deg))
    assert back[0].attributes["event"] == "stayed" and back[1].attributes["event"] == "arrived"
    assert "32636" in back[0].crs_wkt or "UTM zone 36N" in back[0].crs_wkt
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".sitewatch")) == []


def test_gpkg_keeps_other_layers_and_replaces_same_name(tmp_path):
    path = str(tmp_path / "site.gpkg")
    write_detections(path, "before", _dets(), _crs())
    write_detections(path, "after", _dets()[:1], _crs())
    write_detections(path, "before", _dets()[1:], _crs())
    assert [d.class_name for d in read_detections(path, "before")] == ["truck"]
    assert [d.class_name for d in read_detections(path, "after")] == ["il76"]
    with pytest.raises(InputError, match="no layer 'nope'"):
        read_detections(path, "nope")


def test_plain_polygons_become_min_area_boxes(tmp_path):
    path = str(tmp_path / "exemplars.geojson")
    ds = ogr.GetDriverByName("GeoJSON").CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32636)
    lyr = ds.CreateLayer("ex", srs, ogr.wkbPolygon)
    lyr.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    # a rotated 20 x 8 rectangle drawn with an extra vertex, heading 30 deg
    d = Detection(1000.0, 2000.0, 20.0, 8.0, 30.0, "x", 1.0, "user")
    poly = d.polygon
    ring = [poly[0], (poly[0] + poly[1]) / 2, poly[1], poly[2], poly[3], poly[0]]
    feat = ogr.Feature(lyr.GetLayerDefn())
    feat.SetField("class", "su24")
    feat.SetGeometry(ogr.CreateGeometryFromWkt("POLYGON((" + ",".join(f"{x} {y}" for x, y in ring) + "))"))
    lyr.CreateFeature(feat)
    ds = None
    (back,) = read_detections(path)
    assert back.class_name == "su24" and back.engine == "user" and back.score == 1.0
    assert (back.cx, back.cy, back.length_m, back.width_m) == pytest.approx((1000, 2000, 20, 8), abs=1e-6)
    assert back.heading_deg == pytest.approx(30.0)


def test_min_area_rectangle_of_points():
    rng = np.random.default_rng(3)
    pts = rng.uniform(-1, 1, size=(200, 2)) * [10, 2]
    rect = min_area_rectangle(pts)
    d = Detection.from_corners(rect, class_name="x", score=1, engine="t")
    assert d.length_m == pytest.approx(20, abs=0.3) and d.width_m == pytest.approx(4, abs=0.3)
    with pytest.raises(InputError):
        min_area_rectangle(np.array([[0, 0], [1, 1]]))


def test_bad_format_and_field_lengths(tmp_path):
    with pytest.raises(InputError, match="GeoPackage"):
        write_detections(str(tmp_path / "x.xyz"), "d", _dets(), _crs())
    with pytest.raises(InputError, match="values"):
        write_detections(str(tmp_path / "x.gpkg"), "d", _dets(), _crs(), extra_fields={"event": ["a"]})
    assert not (tmp_path / "x.gpkg").exists()
