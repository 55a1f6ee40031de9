"""sitewatch:detectequipment and sitewatch:compareequipment through the Processing registry."""
from __future__ import annotations

import math

import numpy as np
import pytest
from osgeo import gdal, osr
from processing_helpers import run_algorithm

GSD = 0.5
ORIGIN = (400000.0, 3600000.0)


def _aircraft(h, w, cx, cy, heading, length):
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    t = math.radians(heading)
    a = (xx - cx) * math.sin(t) - (yy - cy) * math.cos(t)
    c = (xx - cx) * math.cos(t) + (yy - cy) * math.sin(t)
    body = (np.abs(a) <= length / 2) & (np.abs(c) <= length * 0.06)
    wing = (np.abs(c) <= length / 2) & (a <= length * 0.1 - np.abs(c) * 0.35) & (a >= -length * 0.08 - np.abs(c) * 0.35)
    return body | wing


def _scene(path, objects, size=400):
    rng = np.random.default_rng(1)
    img = 90 + rng.normal(0, 5, (size, size))
    for cx, cy, heading in objects:
        img[_aircraft(size, size, cx, cy, heading, 60)] = 210
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((ORIGIN[0], GSD, 0, ORIGIN[1], 0, -GSD))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32636)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(np.clip(img, 0, 255).astype(np.uint8))
    ds = None
    return str(path)


def _box_layer(name, boxes, with_fields=False):
    """Memory polygon layer of squares (px centres, side in metres) with a class field."""
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    layer = QgsVectorLayer("Polygon?crs=EPSG:32636", name, "memory")
    fields = [QgsField("class", QVariant.String)]
    if with_fields:
        fields += [QgsField("score", QVariant.Double)]
    layer.dataProvider().addAttributes(fields)
    layer.updateFields()
    feats = []
    for px, py, side, cls in boxes:
        x, y = ORIGIN[0] + px * GSD, ORIGIN[1] - py * GSD
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromWkt(
            f"POLYGON(({x - side / 2} {y - side / 2},{x + side / 2} {y - side / 2},{x + side / 2} {y + side / 2},"
            f"{x - side / 2} {y + side / 2},{x - side / 2} {y - side / 2}))"))
        f.setAttributes([cls] + ([0.9] if with_fields else []))
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer




def test_detect_equipment_exemplar(provider, tmp_path):
    from qgis.core import QgsVectorLayer

    objects = [(100, 100, 0), (300, 100, 90), (100, 300, 225), (300, 300, 130)]
    raster = _scene(tmp_path / "scene.tif", objects)
    exemplars = _box_layer("ex", [(100, 100, 32.0, "su24")])
    out = str(tmp_path / "det.gpkg")
    results, _, _ = run_algorithm("sitewatch:detectequipment", {
        "INPUT": raster, "ENGINE": 0, "EXEMPLARS": exemplars, "MIN_SCORE": 0.5, "OUTPUT": out})
    assert results == {"OUTPUT": out}
    layer = QgsVectorLayer(out, "det", "ogr")
    feats = list(layer.getFeatures())
    assert layer.fields().names()[1:] == ["class", "score", "engine", "length_m", "width_m", "heading_deg",
                                          "capture"]
    found = sorted((round((f.geometry().centroid().asPoint().x() - ORIGIN[0]) / GSD / 10),
                    round((ORIGIN[1] - f.geometry().centroid().asPoint().y()) / GSD / 10)) for f in feats)
    assert found == [(10, 10), (10, 30), (30, 10), (30, 30)]
    assert {f["class"] for f in feats} == {"su24"} and {f["engine"] for f in feats} == {"exemplar"}
    assert all(0.5 <= f["score"] <= 1.0 for f in feats)


def test_detect_equipment_checks_parameters(provider, tmp_path):
    from qgis.core import QgsApplication, QgsProcessingContext

    raster = _scene(tmp_path / "scene.tif", [])
    alg = QgsApplication.processingRegistry().createAlgorithmById("sitewatch:detectequipment")
    ok, msg = alg.checkParameterValues({"INPUT": raster, "ENGINE": 0, "OUTPUT": "memory:"}, QgsProcessingContext())
    assert not ok and "EXEMPLARS" in msg
    ok, msg = alg.checkParameterValues({"INPUT": raster, "ENGINE": 2, "OUTPUT": "memory:"}, QgsProcessingContext())
    assert not ok and "ONNX" in msg


def test_compare_equipment(provider, tmp_path):
    from qgis.core import QgsVectorLayer

    before = _box_layer("before", [(100, 100, 20.0, "su24"), (300, 100, 20.0, "su24"), (200, 300, 45.0, "il76")],
                        with_fields=True)
    after = _box_layer("after", [(101, 100, 20.0, "su24"), (300, 130, 20.0, "su34"), (500, 500, 20.0, "mi8")],
                       with_fields=True)
    out, counts = str(tmp_path / "events.gpkg"), str(tmp_path / "counts.gpkg")
    results, _, _ = run_algorithm("sitewatch:compareequipment", {
        "BEFORE": before, "AFTER": after, "MAX_DISTANCE": 20.0, "OUTPUT": out, "OUTPUT_COUNTS": counts})
    assert results == {"OUTPUT": out, "OUTPUT_COUNTS": counts}
    events = sorted((f["event"], f["class"]) for f in QgsVectorLayer(out, "e", "ogr").getFeatures())
    assert events == [("arrived", "mi8"), ("departed", "il76"), ("moved", "su34"), ("stayed", "su24")]
    rows = {f["class"]: [f[n] for n in ("before", "after", "delta", "arrived", "departed", "stayed", "moved")]
            for f in QgsVectorLayer(counts, "c", "ogr").getFeatures()}
    assert rows == {"su24": [2, 1, -1, 0, 0, 1, 0], "su34": [0, 1, 1, 0, 0, 0, 1],
                    "il76": [1, 0, -1, 0, 1, 0, 0], "mi8": [0, 1, 1, 1, 0, 0, 0]}


def test_detect_equipment_leaves_out_areas(provider, tmp_path):
    from qgis.core import QgsProcessingException, QgsVectorLayer

    objects = [(100, 100, 0), (300, 100, 90), (100, 300, 225), (300, 300, 130)]
    raster = _scene(tmp_path / "scene.tif", objects)
    exemplars = _box_layer("ex", [(100, 100, 32.0, "su24")])
    cloud = _box_layer("cloud", [(300, 300, 60.0, "")])  # over the south-east aircraft only
    out = str(tmp_path / "det.gpkg")
    run_algorithm("sitewatch:detectequipment", {
        "INPUT": raster, "ENGINE": 0, "EXEMPLARS": exemplars, "LEAVE_OUT": cloud, "MIN_SCORE": 0.5, "OUTPUT": out})
    feats = list(QgsVectorLayer(out, "det", "ogr").getFeatures())
    found = sorted((round((f.geometry().centroid().asPoint().x() - ORIGIN[0]) / GSD / 10),
                    round((ORIGIN[1] - f.geometry().centroid().asPoint().y()) / GSD / 10)) for f in feats)
    assert found == [(10, 10), (10, 30), (30, 10)]
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject

    alg = QgsApplication.processingRegistry().createAlgorithmById("sitewatch:detectequipment")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    everything = _box_layer("all", [(200, 200, 400.0, "")])
    with pytest.raises(QgsProcessingException, match="cover the whole site"):
        alg.processAlgorithm({"INPUT": raster, "ENGINE": 0, "EXEMPLARS": exemplars, "LEAVE_OUT": everything,
                              "OUTPUT": str(tmp_path / "none.gpkg")}, context, QgsProcessingFeedback())


def test_compare_equipment_removes_the_misregistration(provider, tmp_path):
    """The later capture sits 3 m east and 2 m south: parked aircraft are 'stayed' once that is
    removed (3.6 m apart, beyond the 3 m stay tolerance, without it); boxes stay where drawn."""
    from qgis.core import QgsVectorLayer

    spots = [(100, 100), (300, 100), (200, 300)]
    before = _box_layer("before", [(x, y, 20.0, "su24") for x, y in spots], with_fields=True)
    after = _box_layer("after", [(x + 6, y + 4, 20.0, "su24") for x, y in spots], with_fields=True)  # 0.5 m px
    out, counts = str(tmp_path / "plain.gpkg"), str(tmp_path / "plain_counts.gpkg")
    run_algorithm("sitewatch:compareequipment", {"BEFORE": before, "AFTER": after, "OUTPUT": out,
                                                 "OUTPUT_COUNTS": counts})
    assert {f["event"] for f in QgsVectorLayer(out, "e", "ogr").getFeatures()} == {"moved"}
    out, counts = str(tmp_path / "shifted.gpkg"), str(tmp_path / "shifted_counts.gpkg")
    run_algorithm("sitewatch:compareequipment", {"BEFORE": before, "AFTER": after, "AFTER_DX_M": 3.0,
                                                 "AFTER_DY_M": -2.0, "OUTPUT": out, "OUTPUT_COUNTS": counts})
    events = list(QgsVectorLayer(out, "e", "ogr").getFeatures())
    assert {f["event"] for f in events} == {"stayed"} and len(events) == 3
    centres = sorted((round(f.geometry().centroid().asPoint().x() - ORIGIN[0], 1),
                      round(ORIGIN[1] - f.geometry().centroid().asPoint().y(), 1)) for f in events)
    assert centres == sorted(((x + 6) * GSD, (y + 4) * GSD) for x, y in spots)  # the later boxes, as drawn
