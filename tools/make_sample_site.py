"""Generate the synthetic two-date Khmeimim sample site.

    python tools/make_sample_site.py OUT [--size N] [--seed S] [--quicklook PNG]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import pkgpath  # noqa: E402,F401


def write_quicklook(site, png: Path, max_px: int = 2048) -> None:
    """Side-by-side 8-bit RGB quicklook of both dates (decimated, 1-99.5 % stretch)."""
    import numpy as np
    from osgeo import gdal

    step = max(1, site.size_px // max_px)
    n = site.size_px // step
    views = []
    for path in (site.before, site.after):
        rgb = gdal.Open(str(path)).ReadAsArray(band_list=[1, 2, 3], buf_xsize=n, buf_ysize=n).astype(np.float32)
        lo, hi = np.percentile(rgb, 1), np.percentile(rgb, 99.5)
        views.append((np.clip((rgb - lo) / max(hi - lo, 1), 0, 1) ** 0.8 * 255).astype(np.uint8))
    gap = np.full((3, n, max(4, n // 128)), 255, np.uint8)
    img = np.concatenate([views[0], gap, views[1]], axis=2)
    mem = gdal.GetDriverByName("MEM").Create("", img.shape[2], img.shape[1], 3, gdal.GDT_Byte)
    for i in range(3):
        mem.GetRasterBand(i + 1).WriteArray(img[i])
    gdal.GetDriverByName("PNG").CreateCopy(str(png), mem)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output folder")
    parser.add_argument("--size", type=int, default=4096, help="scene size in pixels (0.5 m each)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quicklook", help="also write a side-by-side PNG of both dates here")
    args = parser.parse_args(argv)

    from sitewatch.plugin.core.errors import SiteWatchError
    from sitewatch.plugin.core.progress import Progress
    from sitewatch.plugin.samplesite import generate_sample_site

    last = [-1]

    def report(fraction: float, message: str) -> bool:
        if int(fraction * 20) != last[0]:
            last[0] = int(fraction * 20)
            print(f"  {fraction * 100:5.1f} %  {message}", flush=True)
        return True

    started = time.perf_counter()
    try:
        site = generate_sample_site(args.out, args.size, args.seed, Progress(report))
    except SiteWatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    m = site.manifest or {}
    print(f"Sample site written to {site.root} in {time.perf_counter() - started:.1f} s")
    print(f"  {site.size_px} x {site.size_px} px at {site.gsd_m} m, EPSG:{site.crs_epsg}; "
          f"{site.before_date:%Y-%m-%d %H:%M} -> {site.after_date:%Y-%m-%d %H:%M} UTC")
    print(f"  objects: {m.get('object_counts')}")
    print(f"  after.tif misregistration: dx={site.shift_px[0]} px, dy={site.shift_px[1]} px")
    if args.quicklook:
        write_quicklook(site, Path(args.quicklook))
        print(f"  quicklook: {args.quicklook}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
