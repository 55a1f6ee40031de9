"""Bad inputs fail with a specific, readable error and leave no output behind."""
from __future__ import annotations

import os

import numpy as np
import pytest

from change_helpers import shifted, textured, write_raster


def _run(before, after, out_dir, **kwargs):
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    return detect_changes(ChangeParameters(before=before, after=after, output_dir=str(out_dir), **kwargs))


def _nothing_written(out_dir) -> bool:
    return not os.path.exists(out_dir) or os.listdir(out_dir) == []


def test_no_overlap_names_both_files(tmp_path):
    from sitewatch.plugin.core.errors import RastersDoNotOverlap

    img = textured(64, 1)
    b = write_raster(tmp_path / "north.tif", img)
    a = write_raster(tmp_path / "south.tif", img, geotransform=(600000.0, 0.5, 0, 3000000.0, 0, -0.5))
    with pytest.raises(RastersDoNotOverlap, match="north.tif.*south.tif"):
        _run(b, a, tmp_path / "out")
    assert _nothing_written(tmp_path / "out")


def test_aoi_outside_the_overlap(tmp_path):
    from sitewatch.plugin.core.errors import RastersDoNotOverlap

    img = textured(64, 1)
    b = write_raster(tmp_path / "b.tif", img)
    a = write_raster(tmp_path / "a.tif", img)
    with pytest.raises(RastersDoNotOverlap, match="area of interest"):
        _run(b, a, tmp_path / "out", aoi_wkt="POLYGON ((0 0, 1 0, 1 1, 0 1, 0 0))")


def test_missing_crs(tmp_path):
    from sitewatch.plugin.core.errors import MissingCRS

    img = textured(64, 1)
    b = write_raster(tmp_path / "b.tif", img)
    a = write_raster(tmp_path / "nocrs.tif", img, epsg=None)
    with pytest.raises(MissingCRS, match="nocrs.tif"):
        _run(b, a, tmp_path / "out")
    assert _nothing_written(tmp_path / "out")


def test_band_mismatch_and_mapping(tmp_path):
    from sitewatch.plugin.core.errors import BandMismatch

    b = write_raster(tmp_path / "b.tif", textured(64, 1, bands=3))
    a = write_raster(tmp_path / "a.tif", textured(64, 1, bands=4))
    with pytest.raises(BandMismatch, match="3 bands.*4"):
        _run(b, a, tmp_path / "out", coregister=False)
    assert _nothing_written(tmp_path / "out")
    result = _run(b, a, tmp_path / "mapped", coregister=False, band_map=[(1, 1), (2, 2), (3, 3)])
    assert result.band_pairs == [(1, 1), (2, 2), (3, 3)]


def test_all_nodata(tmp_path):
    from sitewatch.plugin.core.errors import EmptyRaster

    b = write_raster(tmp_path / "b.tif", textured(64, 1))
    a = write_raster(tmp_path / "empty.tif", np.zeros((3, 64, 64)), nodata=0)
    with pytest.raises(EmptyRaster, match="empty.tif"):
        _run(b, a, tmp_path / "out")
    assert _nothing_written(tmp_path / "out")


def test_unreadable(tmp_path):
    from sitewatch.plugin.core.errors import UnreadableRaster

    b = write_raster(tmp_path / "b.tif", textured(64, 1))
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"not a raster at all")
    with pytest.raises(UnreadableRaster, match="broken.tif"):
        _run(b, str(bad), tmp_path / "out")
    with pytest.raises(UnreadableRaster, match="missing.tif"):
        _run(b, str(tmp_path / "missing.tif"), tmp_path / "out")
    assert _nothing_written(tmp_path / "out")


def test_shift_beyond_search_range_and_uncorrelated(tmp_path):
    from sitewatch.plugin.core.change import coregister
    from sitewatch.plugin.core.errors import CoregistrationFailed

    base = textured(320, 6)
    b = write_raster(tmp_path / "b.tif", base[:, :256, :256])
    far = write_raster(tmp_path / "far.tif", shifted(base, 20, 0)[:, :256, :256])
    with pytest.raises(CoregistrationFailed, match="beyond the search range"):
        coregister(far, b, str(tmp_path / "out.tif"), max_shift_px=6)
    other = write_raster(tmp_path / "other.tif", textured(256, 99))
    with pytest.raises(CoregistrationFailed, match="do not correlate.*Co-registration is required"):
        _run(b, other, tmp_path / "out", require_coregistration=True)
    assert not os.path.exists(tmp_path / "out.tif") and _nothing_written(tmp_path / "out")


@pytest.mark.parametrize("stage", ["Estimating the global shift", "Scoring changes", "Cleaning"])
def test_cancel_leaves_nothing(change_pair, tmp_path, stage):
    """Cancelled at any stage (the shift windows and the scoring run on a thread pool): the
    run stops, and no output or scratch file is left."""
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes
    from sitewatch.plugin.core.errors import Cancelled
    from sitewatch.plugin.core.progress import Progress

    before, after, _ = change_pair
    seen = []

    def callback(fraction, message):
        seen.append(message)
        return not message.startswith(stage)

    with pytest.raises(Cancelled):
        detect_changes(ChangeParameters(before, after, str(tmp_path / "out"), block_size=64), Progress(callback))
    assert seen[-1].startswith(stage)
    assert _nothing_written(tmp_path / "out")


def test_invalid_parameters(change_pair, tmp_path):
    from sitewatch.plugin.core.errors import InputError

    before, after, _ = change_pair
    with pytest.raises(InputError, match="Sensitivity"):
        _run(before, after, tmp_path / "o", sensitivity=1.5)
    with pytest.raises(InputError, match="Unknown change method"):
        _run(before, after, tmp_path / "o", method="magic")


def test_same_file_on_both_dates_is_said(tmp_path):
    """One file given as both dates: a run (nothing changed) that says why nothing can have."""
    import numpy as np
    from osgeo import gdal, osr

    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    path = str(tmp_path / "same.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, 128, 128, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((500000, 0.5, 0, 3800000, 0, -0.5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32636)
    ds.SetProjection(srs.ExportToWkt())
    rng = np.random.default_rng(2)
    for band in range(3):
        ds.GetRasterBand(band + 1).WriteArray((rng.random((128, 128)) * 255).astype(np.uint8))
    ds = None
    result = detect_changes(ChangeParameters(path, path, str(tmp_path / "out")))
    assert result.n_regions == 0
    assert any("same file (same.tif)" in w for w in result.warnings), result.warnings
