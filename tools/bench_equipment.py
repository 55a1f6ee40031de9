"""Exemplar engine throughput on a 10000 x 10000 px scene (target: <= 3 min on 2 cores).

The scene is a VRT mosaic of 4 x 4 airbus-aircraft images (0.5 m, cropped to 10000 px) when the
data is present, else a synthetic scene of drawn aircraft; 3 exemplars from the first image.
Prints wall and CPU seconds and megapixels per second.

    .venv/bin/python tools/bench_equipment.py [--size 10000]
"""
from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import evalkit as ek  # noqa: E402

from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment  # noqa: E402
from sitewatch.plugin.core.equipment.detection import Detection  # noqa: E402

TARGET_S = 180.0


def _airbus_mosaic(tmp: str, size: int) -> tuple[str, list[Detection]]:
    from osgeo import gdal

    gdal.UseExceptions()
    data = ek.airbus_dir()
    annotations = ek.load_airbus_annotations(data)
    images = sorted(i for i, items in annotations.items() if sum(c == "Airplane" for _, c in items) >= 3)
    n = math.ceil(size / 2560)
    parts = []
    for k in range(n * n):
        image = images[k % len(images)]
        origin = (ek.AIRBUS_ORIGIN[0] + (k % n) * 1280.0, ek.AIRBUS_ORIGIN[1] - (k // n) * 1280.0)
        out_dir = Path(tmp) / f"part{k}"
        parts.append(ek.georeferenced_vrt(data / "images" / image, out_dir, origin=origin))
    x0, y0 = ek.AIRBUS_ORIGIN
    mosaic = str(Path(tmp) / "mosaic.vrt")
    gdal.BuildVRT(mosaic, parts, outputBounds=[x0, y0 - size * 0.5, x0 + size * 0.5, y0])
    items = annotations[images[0]]
    polys = ek.pixel_boxes_to_map([r for r, c in items if c == "Airplane"][:3], ek.airbus_geotransform())
    return mosaic, [Detection.from_corners(p, class_name="aircraft", score=1.0, engine="user") for p in polys]


def _synthetic(tmp: str, size: int) -> tuple[str, list[Detection]]:
    from osgeo import gdal, osr

    rng = np.random.default_rng(0)
    path = str(Path(tmp) / "synthetic.tif")
    ds = gdal.GetDriverByName("GTiff").Create(path, size, size, 1, gdal.GDT_Byte, ["TILED=YES"])
    ds.SetGeoTransform((ek.AIRBUS_ORIGIN[0], 0.5, 0, ek.AIRBUS_ORIGIN[1], 0, -0.5))
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(32636)
    ds.SetProjection(srs.ExportToWkt())
    band = ds.GetRasterBand(1)
    yy, xx = np.mgrid[0:1000, 0:1000]
    for by in range(0, size, 1000):
        for bx in range(0, size, 1000):
            block = 90 + rng.normal(0, 6, (1000, 1000))
            for _ in range(5):
                cx, cy, t = rng.uniform(100, 900), rng.uniform(100, 900), rng.uniform(0, np.pi)
                a = (xx - cx) * np.sin(t) - (yy - cy) * np.cos(t)
                c = (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)
                block[((abs(a) < 30) & (abs(c) < 4)) | ((abs(c) < 30) & (abs(a) < 5))] = 200
            h, w = min(1000, size - by), min(1000, size - bx)
            band.WriteArray(block[:h, :w].astype(np.uint8), bx, by)
    ds = None
    x, y = ek.AIRBUS_ORIGIN
    ex = Detection(cx=x + 250.0, cy=y - 250.0, length_m=30.0, width_m=30.0, heading_deg=0.0,
                   class_name="aircraft", score=1.0, engine="user")
    return path, [ex]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=10000, help="scene side in pixels")
    args, _ = ap.parse_known_args(argv if argv is not None else sys.argv[1:])
    with tempfile.TemporaryDirectory() as tmp:
        if ek.airbus_dir() is not None:
            scene, exemplars, kind = *_airbus_mosaic(tmp, args.size), "airbus mosaic"
        else:
            scene, exemplars, kind = *_synthetic(tmp, args.size), "synthetic scene"
        cpu0, t0 = time.process_time(), time.perf_counter()
        result = detect_equipment(DetectionParameters(raster=scene, engine="exemplar", exemplars=exemplars))
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    mp = result.megapixels
    print(f"exemplar engine on a {args.size} x {args.size} px {kind} ({mp:.0f} MP, {len(exemplars)} exemplars)")
    print(f"  {wall:.1f} s wall, {cpu:.1f} s CPU, {mp / wall:.2f} MP/s wall, {mp / cpu:.2f} MP/s CPU; "
          f"{len(result.detections)} detections (target <= {TARGET_S:.0f} s)")
    return 0 if wall <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
