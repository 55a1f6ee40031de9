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
