"""Any CRS, measured right: captures in degrees are analysed on their local UTM zone (areas in
m² as for the same captures in UTM); a capture without georeferencing needs a pixel size."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from osgeo import gdal, osr

sys.path.insert(0, str(Path(__file__).resolve().parent / "change"))
from change_helpers import textured, write_raster  # noqa: E402

gdal.UseExceptions()


def _to_degrees(path: str, out: Path) -> str:
    gdal.Warp(str(out), path, dstSRS="EPSG:4326", resampleAlg="near")
    return str(out)


def test_change_in_degrees_is_measured_in_metres(tmp_path):
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    img = textured(160, 4)
    after = img.copy()
    after[:, 60:90, 50:90] = 250.0  # 30 x 40 px at 0.5 m: 300 m²
    b = write_raster(tmp_path / "b.tif", img)
    a = write_raster(tmp_path / "a.tif", after)
    metric = detect_changes(ChangeParameters(before=b, after=a, output_dir=str(tmp_path / "utm"), coregister=False))
    b4326, a4326 = _to_degrees(b, tmp_path / "b4326.tif"), _to_degrees(a, tmp_path / "a4326.tif")
    degrees = detect_changes(ChangeParameters(before=b4326, after=a4326, output_dir=str(tmp_path / "deg"),
                                              coregister=False))
    grid_srs = osr.SpatialReference(wkt=degrees.grid.crs_wkt)
    assert grid_srs.GetUTMZone() == 33 and not grid_srs.IsGeographic()
    assert degrees.grid.pixel_width == pytest.approx(0.5, rel=0.2)  # metres, not degrees
    assert metric.changed_area_m2 == pytest.approx(300, rel=0.3)
    assert degrees.changed_area_m2 == pytest.approx(metric.changed_area_m2, rel=0.25)
    assert degrees.n_regions == metric.n_regions == 1


def test_detection_needs_georeferencing_or_a_pixel_size(tmp_path):
    from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment
    from sitewatch.plugin.core.equipment.detection import Detection
    from sitewatch.plugin.core.errors import InputError

    png = write_raster(tmp_path / "plain.png", textured(64, 2))
    example = Detection(cx=32.0, cy=-32.0, length_m=8.0, width_m=8.0, heading_deg=0.0, class_name="vehicle",
                        score=1.0, engine="manual")
    with pytest.raises(InputError, match="plain.png has no georeferencing"):
        detect_equipment(DetectionParameters(raster=png, exemplars=[example]))
    result = detect_equipment(DetectionParameters(raster=png, exemplars=[example], pixel_size_m=1.0))
    assert result.raster == png and result.crs_wkt == ""
    assert all(d.length_m < 40 for d in result.detections)  # metres at the given pixel size


def test_pixel_frame_maps_the_shown_frame_onto_metres():
    from sitewatch.plugin.core.metric import PixelFrame

    frame = PixelFrame(0.5)  # QGIS shows a raster without georeferencing at x = column, y = -row
    square = "POLYGON ((10 -10,30 -10,30 -40,10 -40,10 -10))"
    metric = frame.to_metric_wkt(square)
    assert metric == "POLYGON ((5 -5,15 -5,15 -20,5 -20,5 -5))"
    assert frame.from_metric_wkt(metric) == square
    assert frame.from_metric_point(5.0, -20.0) == (10.0, -40.0)
    assert frame.from_metric_geotransform((0.0, 0.5, 0.0, 0.0, 0.0, -0.5)) == (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    assert PixelFrame().identity and PixelFrame().to_metric_wkt(square) == square


def test_change_on_a_plain_image_stays_in_its_shown_frame(tmp_path):
    """Two PNG-like captures at 0.5 m: the AOI is read and the outputs written where QGIS shows
    the images (x = column, y = -row); areas in m²."""
    from osgeo import ogr

    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    img = textured(160, 4)
    after = img.copy()
    after[:, 60:90, 100:140] = 250.0  # rows 60..90, columns 100..140: 1200 px = 300 m² at 0.5 m
    b = write_raster(tmp_path / "b.png", img)
    a = write_raster(tmp_path / "a.png", after)
    aoi = "POLYGON ((80 -40,150 -40,150 -110,80 -110,80 -40))"  # drawn around it on the shown image
    result = detect_changes(ChangeParameters(before=b, after=a, output_dir=str(tmp_path / "out"), coregister=False,
                                             pixel_size_m=0.5, aoi_wkt=aoi))
    assert result.n_regions == 1 and result.changed_area_m2 == pytest.approx(300, rel=0.3)
    region = ogr.CreateGeometryFromWkt(result.regions[0].wkt)
    minx, maxx, miny, maxy = region.GetEnvelope()
    assert (minx, maxx, miny, maxy) == (pytest.approx(100, abs=3), pytest.approx(140, abs=3),
                                        pytest.approx(-90, abs=3), pytest.approx(-60, abs=3))
    assert (result.regions[0].centroid_x, result.regions[0].centroid_y) == (pytest.approx(120, abs=2),
                                                                            pytest.approx(-75, abs=2))
    ds = ogr.Open(result.regions_path)
    feature = ds.GetLayerByName(result.regions_layer).GetNextFeature()
    assert feature.GetGeometryRef().GetEnvelope() == pytest.approx((minx, maxx, miny, maxy))
    assert feature.GetField("area_m2") == pytest.approx(region.GetArea() * 0.25)
    for raster in (result.score_path, result.mask_path):  # on the captures' own grid as QGIS shows them
        gt = gdal.Open(raster).GetGeoTransform()
        assert (gt[1], gt[5]) == (1.0, -1.0) and 80 <= gt[0] and gt[3] <= -40


def test_analysis_of_plain_images_leaves_out_what_the_analyst_drew(tmp_path):
    """An area left out, drawn on the shown PNG (x = column, y = -row): the change there is
    dropped, the other kept, and the area left out is measured in m² at 0.5 m."""
    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions, run_analysis

    img = textured(160, 4)
    after = img.copy()
    after[:, 20:50, 20:50] = 250.0  # top left: left out
    after[:, 100:130, 100:140] = 250.0  # bottom right: 30 x 40 px = 300 m²
    b = write_raster(tmp_path / "b.png", img)
    a = write_raster(tmp_path / "a.png", after)
    left_out = "POLYGON ((0 0,70 0,70 -70,0 -70,0 0))"  # 70 x 70 px = 1225 m²
    result = run_analysis(AnalysisParameters("Plain", b, a, str(tmp_path / "analysis"), left_out_wkt=left_out,
                                             pixel_size_m=0.5, equipment=EquipmentOptions(enabled=False)))
    assert result.left_out_m2 == pytest.approx(1225)
    assert result.change.n_regions == 1 and result.change.changed_area_m2 == pytest.approx(300, rel=0.3)
    from osgeo import ogr

    minx, maxx, miny, maxy = ogr.CreateGeometryFromWkt(result.change.regions[0].wkt).GetEnvelope()
    assert (minx + maxx) / 2 == pytest.approx(120, abs=3) and (miny + maxy) / 2 == pytest.approx(-115, abs=3)
