"""Runs a failing sitewatch:detectchanges (captures that do not overlap) N times through
qgis_process and counts the runs that crashed instead of failing cleanly (exit 1).

    .venv/bin/python tools/exit_loop.py [N]     (default 50; exits 1 when any run crashed)
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from osgeo import gdal, osr

import pkgpath

QGIS_PROCESS = "/usr/bin/qgis_process.bin"


def _capture(path: Path, x0: float) -> str:
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 64, 64, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((x0, 1.0, 0.0, 4000000.0, 0.0, -1.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    rng = np.random.default_rng(0)
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(rng.integers(0, 255, (64, 64), dtype=np.uint8))
    ds = None
    return str(path)


def main(runs: int) -> int:
    gdal.UseExceptions()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = dict(os.environ, HOME=str(work), QGIS_PLUGINPATH=str(pkgpath.add_package_to_path()),
                   QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(work / "profile"))
        subprocess.run([QGIS_PROCESS, "plugins", "enable", "sitewatch"], env=env, capture_output=True, timeout=300)
        before, after = _capture(work / "before.tif", 500000.0), _capture(work / "after.tif", 600000.0)
        codes: dict[int, int] = {}
        for _ in range(runs):
            done = subprocess.run([QGIS_PROCESS, "run", "sitewatch:detectchanges", "--", f"BEFORE={before}",
                                   f"AFTER={after}", f"OUTPUT_SCORE={work / 'out' / 's.tif'}",
                                   f"OUTPUT_MASK={work / 'out' / 'm.tif'}",
                                   f"OUTPUT_REGIONS={work / 'out' / 'r.gpkg'}"],
                                  env=env, capture_output=True, text=True, timeout=300)
            codes[done.returncode] = codes.get(done.returncode, 0) + 1
        crashed = sum(n for code, n in codes.items() if code != 1)
        print(f"{runs} failing detectchanges runs through qgis_process: exit codes {codes}; {crashed} crashed")
        return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50))
