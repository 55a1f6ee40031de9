"""The run estimate counts the one-time compilation of the change kernels on a first run."""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal, osr


def _capture(path: Path) -> str:
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 1000, 1000, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((500000.0, 0.5, 0.0, 3800000.0, 0.0, -0.5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32636)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(np.zeros((1000, 1000), np.uint8))
    ds = None
    return str(path)


@pytest.fixture()
def params(tmp_path):
    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions

    return AnalysisParameters(site_name="s", before_path=_capture(tmp_path / "b.tif"), after_path=_capture(tmp_path / "a.tif"),
                              output_dir=str(tmp_path / "out"), equipment=EquipmentOptions(enabled=False))


def test_first_run_adds_the_kernel_compilation(params, tmp_path, monkeypatch):
    pytest.importorskip("numba")
    from sitewatch.plugin.core import pipeline
    from sitewatch.plugin.core.change import acceleration

    monkeypatch.delenv(acceleration.DISABLE_ENV, raising=False)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "cache"))  # empty: nothing compiled yet
    first = pipeline.describe_run(params)
    warm_s = pipeline.CHANGE_BASE_S + 1.0 / pipeline.CHANGE_MP_PER_S
    assert first.seconds == pytest.approx(warm_s + pipeline.KERNEL_COMPILE_S)
    assert any(line.startswith("First run on this computer") for line in first.lines)

    module_dir = os.path.dirname(os.path.abspath(acceleration.__file__))  # where numba keeps its index
    cached = tmp_path / "cache" / f"{os.path.basename(module_dir)}_{hashlib.sha1(module_dir.encode()).hexdigest()}"
    cached.mkdir(parents=True)
    (cached / f"compiled.fine_and_guide-204.py{sys.version_info[0]}{sys.version_info[1]}.nbi").write_bytes(b"")
    second = pipeline.describe_run(params)
    assert second.seconds == pytest.approx(warm_s)
    assert not any(line.startswith("First run") for line in second.lines)

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv(acceleration.DISABLE_ENV, "1")  # numpy path: nothing to compile, slower scoring
    numpy_s = pipeline.CHANGE_BASE_S + 1.0 / pipeline.CHANGE_NUMPY_MP_PER_S
    assert pipeline.describe_run(params).seconds == pytest.approx(numpy_s) and numpy_s > warm_s
