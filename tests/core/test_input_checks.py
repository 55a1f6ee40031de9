"""Inputs that cannot be judged are said so: uniform captures refused, constant bands and a site
mostly without data reported in the result's warnings; outputs checked before the work."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "change"))
from change_helpers import textured, write_raster  # noqa: E402


def _detect(before, after, out, **kwargs):
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    return detect_changes(ChangeParameters(before=before, after=after, output_dir=str(out), **kwargs))


def test_all_black_after_capture_is_refused_not_reported_as_change(tmp_path):
    from sitewatch.plugin.core.errors import EmptyRaster

    before = write_raster(tmp_path / "b.tif", textured(96, 1))
    after = write_raster(tmp_path / "black.tif", np.zeros((3, 96, 96)))
    with pytest.raises(EmptyRaster, match="black.tif is uniform"):
        _detect(before, after, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_constant_band_and_little_data_are_warned(tmp_path):
    img = textured(128, 2)
    after = img.copy()
    after[2] = 50.0  # one band dead
    after[:, :, 40:] = 0  # nodata over most of the site
    before = write_raster(tmp_path / "b.tif", img, nodata=0)
    after_path = write_raster(tmp_path / "a.tif", after, nodata=0)
    result = _detect(before, after_path, tmp_path / "out", coregister=False)
    text = " ".join(result.warnings)
    assert "band 3 hold one value" in text
    assert "% of the site has data on both dates" in text


def test_georeferencing_required_unless_a_pixel_size_is_given(tmp_path):
    from sitewatch.plugin.core.errors import InputError, MissingCRS
    from sitewatch.plugin.core.input_checks import check_georeferenced

    png = write_raster(tmp_path / "plain.png", textured(32, 1))
    with pytest.raises(InputError, match="no georeferencing"):
        check_georeferenced(png, "capture")
    check_georeferenced(png, "capture", pixel_size_m=0.5)
    no_crs = write_raster(tmp_path / "nocrs.tif", textured(32, 1), epsg=None)
    with pytest.raises(MissingCRS, match="nocrs.tif"):
        check_georeferenced(no_crs)


def test_outputs_that_collide_or_cannot_be_written(tmp_path):
    from sitewatch.plugin.core.errors import InputError
    from sitewatch.plugin.core.output_checks import check_outputs

    same = str(tmp_path / "x.tif")
    with pytest.raises(InputError, match="OUTPUT_SCORE and OUTPUT_MASK are the same file"):
        check_outputs({"OUTPUT_SCORE": same, "OUTPUT_MASK": same})
    with pytest.raises(InputError, match="would overwrite the input BEFORE"):
        check_outputs({"OUTPUT": same}, {"BEFORE": same})
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_outputs({"OUTPUT": str(tmp_path / "afile" / "out.tif")})
    with pytest.raises(InputError, match="cannot be written"):
        check_outputs({"OUTPUT": os.path.join(read_only_folder(tmp_path), "out.tif")})
    with pytest.raises(InputError, match="MB free"):
        check_outputs({"OUTPUT": str(tmp_path / "new" / "out.tif")}, min_free_bytes=1 << 60)
    check_outputs({"OUTPUT": str(tmp_path / "new" / "deeper" / "out.tif")})
    assert not (tmp_path / "new").exists() and os.listdir(tmp_path) == ["afile"]


def read_only_folder(tmp_path) -> str:
    """A folder this process cannot write in (root writes anywhere on a normal disk: /sys then)."""
    if os.geteuid() == 0:
        return "/sys"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return str(folder)


def test_failures_become_one_sentence_and_defects_are_logged(tmp_path, monkeypatch):
    import errno

    from sitewatch.plugin.core.errors import RastersDoNotOverlap
    from sitewatch.plugin.core.failures import LOG_DIR_ENV, describe_failure, user_message

    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path / "logs"))
    assert describe_failure(RastersDoNotOverlap("a and b share no area.")).message == "a and b share no area."
    full = describe_failure(OSError(errno.ENOSPC, "No space left on device", "/data/x.tif"))
    assert full.expected and "disk is full (x.tif)" in full.message
    written = describe_failure(RuntimeError("TIFFWriteDirectoryTagData:IO error writing tag data"))
    assert written.expected and "disk is probably full" in written.message
    own_temp = describe_failure(RuntimeError("/o/.sitewatch-run-12-34/work-x/raw_mask.tif, band 1: IReadBlock failed"))
    assert "disk is probably full" in own_temp.message
    denied = describe_failure(RuntimeError("/out/x.tif: Permission denied"))
    assert denied.expected and "Permission denied" in denied.message
    try:
        {}["missing"]
    except KeyError as exc:
        message = user_message(exc, "sitewatch:test")
    assert message.startswith("Unexpected error (KeyError") and str(tmp_path / "logs") in message
    log = (tmp_path / "logs" / "sitewatch.log").read_text()
    assert "Traceback" in log and "sitewatch:test" in log and "Traceback" not in message


def test_warnings_reach_the_analysis_summary():
    from types import SimpleNamespace

    from sitewatch.plugin.core.pipeline import summary_lines

    change = SimpleNamespace(changed_area_m2=10.0, n_regions=1, method="structure", shift=None,
                             warnings=["a.tif: band 3 hold one value over the site; ..."])
    result = SimpleNamespace(title="t", change=change, match=None, left_out_m2=0.0,
                             warnings=["The capture b.tif holds one value everywhere"])
    lines = summary_lines(result)
    assert "  Warning: a.tif: band 3 hold one value over the site; ..." in lines
    assert "Warning: The capture b.tif holds one value everywhere" in lines
