"""Runs a failing sitewatch:detectchanges N times through qgis_process and counts the runs that
crashed instead of failing cleanly (exit 1). The captures overlap but hold data on opposite
halves: the run fails once the compiled kernels have begun loading in the background (no valid
pixels in common), where a process exiting at once used to crash.

    .venv/bin/python tools/exit_loop.py [N] [--cold]   (default 50; exits 1 when any run crashed;
    --cold: an empty numba cache for each run, so the kernels are compiling when the run fails)
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


def _capture(path: Path, empty_columns: slice) -> str:
    ds = gdal.GetDriverByName("GTiff").Create(str(path), 128, 128, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((500000.0, 1.0, 0.0, 4000000.0, 0.0, -1.0))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32633)
    ds.SetProjection(srs.ExportToWkt())
    rng = np.random.default_rng(0)
    for b in range(3):
        band = rng.integers(1, 255, (128, 128), dtype=np.uint8)
        band[:, empty_columns] = 0
        ds.GetRasterBand(b + 1).WriteArray(band)
        ds.GetRasterBand(b + 1).SetNoDataValue(0)
    ds = None
    return str(path)


def main(runs: int, cold: bool = False) -> int:
    """cold: each run with an empty numba cache (the kernels compile, about 20 s, in the background)."""
    gdal.UseExceptions()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = dict(os.environ, HOME=str(work), QGIS_PLUGINPATH=str(pkgpath.add_package_to_path()),
                   QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(work / "profile"))
        subprocess.run([QGIS_PROCESS, "plugins", "enable", "sitewatch"], env=env, capture_output=True, timeout=300)
        before, after = _capture(work / "before.tif", slice(64, None)), _capture(work / "after.tif", slice(0, 64))
        codes: dict[int, int] = {}
        reasons = set()
        for k in range(runs):
            if cold:
                env["NUMBA_CACHE_DIR"] = str(work / f"numba-cache-{k}")
            done = subprocess.run([QGIS_PROCESS, "run", "sitewatch:detectchanges", "--", f"BEFORE={before}",
                                   f"AFTER={after}", f"OUTPUT_SCORE={work / 'out' / 's.tif'}",
                                   f"OUTPUT_MASK={work / 'out' / 'm.tif'}",
                                   f"OUTPUT_REGIONS={work / 'out' / 'r.gpkg'}"],
                                  env=env, capture_output=True, text=True, timeout=300)
            codes[done.returncode] = codes.get(done.returncode, 0) + 1
            reasons.update(line for line in done.stdout.splitlines() + done.stderr.splitlines()
                           if line.startswith("ERROR"))
        crashed = sum(n for code, n in codes.items() if code != 1)
        print(f"{runs} failing detectchanges runs through qgis_process: exit codes {codes}; {crashed} crashed")
        print("\n".join(sorted(reasons)))
        return 1 if crashed else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--cold"]
    sys.exit(main(int(args[0]) if args else 50, cold="--cold" in sys.argv[1:]))
