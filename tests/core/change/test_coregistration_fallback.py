"""Co-registration that cannot measure a shift keeps the georeferenced alignment and says so;
the strict option stops the run instead."""
from __future__ import annotations

import logging

import numpy as np
import pytest
from osgeo import gdal

from change_helpers import textured, write_raster


def _run(before, after, out_dir, **kwargs):
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    return detect_changes(ChangeParameters(before=before, after=after, output_dir=str(out_dir), **kwargs))


@pytest.fixture
def uncorrelated_pair(tmp_path):
    """Two unrelated textures (no window correlates), except a shared 64 px block."""
    before = textured(256, 1)
    after = textured(256, 99)
    after[:, :64, :64] = before[:, :64, :64]
    return write_raster(tmp_path / "before.tif", before), write_raster(tmp_path / "after.tif", after)


def test_no_confident_window_keeps_the_georeferenced_alignment(uncorrelated_pair, tmp_path, caplog):
    before, after = uncorrelated_pair
    with caplog.at_level(logging.WARNING):
        result = _run(before, after, tmp_path / "out")
    assert result.shift.status == "not estimated"
    assert (result.shift.dx_px, result.shift.dy_px, result.shift.confidence) == (0.0, 0.0, 0.0)
    assert "do not correlate" in result.shift.note
    assert result.shift.describe().startswith("Co-registration: not estimated")
    assert any("Co-registration: not estimated" in r.getMessage() for r in caplog.records)
    # the run went on: a change map where the textures differ, none on the shared block
    mask = gdal.Open(result.mask_path).ReadAsArray()
    assert (mask[8:56, 8:56] == 0).all()
    assert (mask == 1).mean() > 0.3


def test_strict_option_stops_the_run(uncorrelated_pair, tmp_path):
    from sitewatch.plugin.core.errors import CoregistrationFailed

    before, after = uncorrelated_pair
    with pytest.raises(CoregistrationFailed, match="do not correlate"):
        _run(before, after, tmp_path / "out", require_coregistration=True)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_status_of_an_estimated_and_a_skipped_shift(change_pair, tmp_path):
    before, after, _ = change_pair
    estimated = _run(before, after, tmp_path / "on", require_coregistration=True)
    assert estimated.shift.status == "estimated" and estimated.shift.note == ""
    assert estimated.shift.describe().startswith("Co-registration shift: +1.")
    off = _run(before, after, tmp_path / "off", coregister=False)
    assert off.shift.status == "off" and off.shift.describe() == "Co-registration: off"


def test_analysis_summary_says_the_shift_was_not_estimated(uncorrelated_pair, tmp_path):
    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions, run_analysis

    before, after = uncorrelated_pair
    result = run_analysis(AnalysisParameters("Uncorrelated", before, after, str(tmp_path / "analysis"),
                                             equipment=EquipmentOptions(enabled=False)))
    lines = [line for line in result.summary_lines if line.startswith("Co-registration")]
    assert len(lines) == 1 and lines[0].startswith("Co-registration: not estimated, the georeferenced alignment")
    assert np.isfinite(result.change.changed_area_m2) and result.change.n_regions >= 1
