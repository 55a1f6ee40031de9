"""The Toolbox algorithms sitewatch:coregister and sitewatch:detectchanges run end to end."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "change"))
from change_helpers import shifted, textured, write_raster  # noqa: E402
from processing_helpers import run_algorithm  # noqa: E402


def _run(alg_id, params):
    return run_algorithm(alg_id, params)[0]


def test_coregister_algorithm(provider, tmp_path):
    base = textured(320, 8)
    ref = write_raster(tmp_path / "ref.tif", base[:, :256, :256])
    moved = write_raster(tmp_path / "moved.tif", shifted(base, 2.0, -1.0)[:, :256, :256] * 0.8 + 20)
    out = str(tmp_path / "aligned.tif")
    results = _run("sitewatch:coregister", {"INPUT": moved, "REFERENCE": ref, "OUTPUT": out})
    assert set(results) == {"OUTPUT", "DX_PX", "DY_PX", "DX_M", "DY_M", "CONFIDENCE"}
    assert results["OUTPUT"] == out and Path(out).exists()
    assert results["DX_PX"] == pytest.approx(2.0, abs=0.2)
    assert results["DY_PX"] == pytest.approx(-1.0, abs=0.2)
    assert results["DX_M"] == pytest.approx(1.0, abs=0.1)
    assert results["DY_M"] == pytest.approx(0.5, abs=0.1)
    assert 0.3 < results["CONFIDENCE"] <= 1.0


def test_detectchanges_algorithm_with_aoi(provider, tmp_path):
    from qgis.core import QgsFeature, QgsGeometry, QgsVectorLayer

    before = textured(256, 9)
    after = before.copy()
    after[:, 100:124, 60:100] = 240.0  # inside the AOI
    after[:, 10:30, 200:240] = 240.0  # outside
    b = write_raster(tmp_path / "before.tif", before)
    a = write_raster(tmp_path / "after.tif", after)
    aoi = QgsVectorLayer("Polygon?crs=EPSG:32633", "aoi", "memory")
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromWkt(
        "POLYGON ((500010 3999920, 500070 3999920, 500070 3999970, 500010 3999970, 500010 3999920))"))
    aoi.dataProvider().addFeatures([feature])
    params = {
        "BEFORE": b, "AFTER": a, "AOI": aoi, "METHOD": 0, "SENSITIVITY": 0.5, "MIN_AREA": 50.0,
        "COREGISTER": False, "NORMALIZE": True,
        "OUTPUT_SCORE": str(tmp_path / "score.tif"), "OUTPUT_MASK": str(tmp_path / "mask.tif"),
        "OUTPUT_REGIONS": str(tmp_path / "regions.gpkg"),
    }
    results = _run("sitewatch:detectchanges", params)
    assert results == {
        "OUTPUT_SCORE": str(tmp_path / "score.tif"),
        "OUTPUT_MASK": str(tmp_path / "mask.tif"),
        "OUTPUT_REGIONS": f"{tmp_path / 'regions.gpkg'}|layername=change_regions",
        "N_REGIONS": 1,
        "CHANGED_AREA_M2": pytest.approx(240, rel=0.35),
    }
    layer = QgsVectorLayer(results["OUTPUT_REGIONS"], "regions", "ogr")
    assert layer.isValid() and layer.featureCount() == 1
    assert "area_m2" in layer.fields().names()
    # the advanced half-resolution switch reaches the core: same building, a different score
    half = dict(params, HALF_RESOLUTION=True, OUTPUT_SCORE=str(tmp_path / "score_half.tif"),
                OUTPUT_MASK=str(tmp_path / "mask_half.tif"), OUTPUT_REGIONS=str(tmp_path / "regions_half.gpkg"))
    results = _run("sitewatch:detectchanges", half)
    assert results["N_REGIONS"] == 1 and results["CHANGED_AREA_M2"] == pytest.approx(240, rel=0.5)
    full_score = gdal.Open(str(tmp_path / "score.tif")).ReadAsArray()
    half_score = gdal.Open(str(tmp_path / "score_half.tif")).ReadAsArray()
    assert full_score.shape == half_score.shape and np.abs(full_score - half_score).max() > 0.05


def test_detectchanges_leaves_out_areas_given_in_another_crs(provider, tmp_path):
    from qgis.core import (
        QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFeature, QgsGeometry, QgsProject, QgsVectorLayer,
    )

    before = textured(256, 9)
    after = before.copy()
    after[:, 100:124, 60:100] = 240.0  # covered by the cloud outline below
    after[:, 10:30, 200:240] = 240.0  # in the clear
    b = write_raster(tmp_path / "before.tif", before)
    a = write_raster(tmp_path / "after.tif", after)
    cloud = QgsGeometry.fromWkt("POLYGON ((500020 3999930, 500060 3999930, 500060 3999960, 500020 3999960, 500020 3999930))")
    cloud.transform(QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:32633"),
                                           QgsCoordinateReferenceSystem("EPSG:4326"), QgsProject.instance()))
    layer = QgsVectorLayer("Polygon?crs=EPSG:4326", "clouds", "memory")
    feature = QgsFeature()
    feature.setGeometry(cloud)
    layer.dataProvider().addFeatures([feature])
    params = {"BEFORE": b, "AFTER": a, "LEAVE_OUT": layer, "COREGISTER": False,
              "OUTPUT_SCORE": str(tmp_path / "s.tif"), "OUTPUT_MASK": str(tmp_path / "m.tif"),
              "OUTPUT_REGIONS": str(tmp_path / "r.gpkg")}
    results = _run("sitewatch:detectchanges", params)
    assert results["N_REGIONS"] == 1
    regions = QgsVectorLayer(results["OUTPUT_REGIONS"], "regions", "ogr")
    centre = next(regions.getFeatures()).geometry().centroid().asPoint()
    assert 500095 < centre.x() < 500125 and centre.y() > 3999980  # the clear one
    mask = gdal.Open(str(tmp_path / "m.tif")).ReadAsArray()
    assert (mask[84:136, 44:116] == 255).all()  # rows 80-140, columns 40-120 left out


def test_detectchanges_reports_bad_input(provider, tmp_path):
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingException, QgsProcessingFeedback

    img = textured(64, 1)
    b = write_raster(tmp_path / "north.tif", img)
    a = write_raster(tmp_path / "south.tif", img, geotransform=(600000.0, 0.5, 0, 3000000.0, 0, -0.5))
    alg = QgsApplication.processingRegistry().createAlgorithmById("sitewatch:detectchanges")
    params = {"BEFORE": b, "AFTER": a, "OUTPUT_SCORE": str(tmp_path / "s.tif"),
              "OUTPUT_MASK": str(tmp_path / "m.tif"), "OUTPUT_REGIONS": str(tmp_path / "r.gpkg")}
    context = QgsProcessingContext()
    assert alg.checkParameterValues(params, context)[0]
    with pytest.raises(QgsProcessingException, match="share no area"):
        alg.processAlgorithm(params, context, QgsProcessingFeedback())
    assert not (tmp_path / "s.tif").exists() and not (tmp_path / "r.gpkg").exists()
