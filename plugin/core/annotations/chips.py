"""Image chips around annotated objects: 8-bit RGB PNGs with a world file and their CRS beside
(GDAL's .aux.xml), so a chip opened in GDAL or QGIS sits where it was cut from."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..equipment.detection import Detection
from ..errors import InputError
from ..gdal_scope import gdal_exceptions
from .boxes import map_to_pixel

CHIP_PX = 512  # chip grid step; each chip grows by its objects' half size so none is cut
MARGIN_PX = 16


@dataclass
class Box:
    """An annotation in an image: class and four corners (pixels, x right, y down)."""

    class_name: str
    corners: np.ndarray  # (4, 2)
    object_id: str = ""

    @property
    def envelope(self) -> tuple[float, float, float, float]:
        c = np.asarray(self.corners, dtype=float)
        return float(c[:, 0].min()), float(c[:, 1].min()), float(c[:, 0].max()), float(c[:, 1].max())


@dataclass
class Chip:
    """An image (a chip written here, or an image read from a dataset) and its boxes."""

    path: Path
    width: int
    height: int
    geotransform: Optional[tuple] = None  # None: the image is not georeferenced
    crs_wkt: str = ""
    boxes: list[Box] = field(default_factory=list)


@gdal_exceptions()
def write_chips(raster: str, detections: Sequence[Detection], out_dir: Path, prefix: str,
                object_ids: Optional[Sequence[str]] = None, chip_px: int = CHIP_PX) -> list[Chip]:
    """Cut `raster` into chips that hold every detection whole; returns the chips with their boxes
    (a detection lies in the chip of its centre, and in any other chip that holds it whole)."""
    from osgeo import gdal

    ds = gdal.Open(str(raster))
    if ds is None:
        raise InputError(f"Cannot open the capture {raster} to cut image chips from it.")
    gt = ds.GetGeoTransform()
    crs = ds.GetProjection()
    ids = list(object_ids) if object_ids is not None else [""] * len(detections)
    corners = [map_to_pixel(d.polygon, gt) for d in detections]
    tiles: dict[tuple[int, int], list[int]] = {}
    for k, c in enumerate(corners):
        cx, cy = c.mean(axis=0)
        tiles.setdefault((int(cx // chip_px), int(cy // chip_px)), []).append(k)
    out_dir.mkdir(parents=True, exist_ok=True)
    chips = []
    for (tx, ty), members in sorted(tiles.items()):
        grow = max(math.ceil(max(np.ptp(corners[k][:, 0]), np.ptp(corners[k][:, 1])) / 2.0) for k in members)
        x0 = max(0, tx * chip_px - grow - MARGIN_PX)
        y0 = max(0, ty * chip_px - grow - MARGIN_PX)
        x1 = min(ds.RasterXSize, (tx + 1) * chip_px + grow + MARGIN_PX)
        y1 = min(ds.RasterYSize, (ty + 1) * chip_px + grow + MARGIN_PX)
        if x1 <= x0 or y1 <= y0:
            continue
        path = out_dir / f"{prefix}_{tx:03d}_{ty:03d}.png"
        chip_gt = (gt[0] + x0 * gt[1] + y0 * gt[2], gt[1], gt[2], gt[3] + x0 * gt[4] + y0 * gt[5], gt[4], gt[5])
        _write_png(ds, (x0, y0, x1 - x0, y1 - y0), chip_gt, crs, path)
        chip = Chip(path, x1 - x0, y1 - y0, chip_gt, crs)
        for k, c in enumerate(corners):
            local = c - np.array([x0, y0], dtype=float)
            whole = (local >= 0).all() and (local[:, 0] <= x1 - x0).all() and (local[:, 1] <= y1 - y0).all()
            if k in members or whole:
                chip.boxes.append(Box(detections[k].class_name, local, ids[k]))
        chips.append(chip)
    return chips


def _write_png(ds, window: tuple[int, int, int, int], gt: tuple, crs: str, path: Path) -> None:
    from osgeo import gdal

    from ..equipment.learned.data import to_uint8

    x0, y0, w, h = window
    bands = ds.ReadAsArray(x0, y0, w, h)
    rgb = to_uint8(np.asarray(bands))
    mem = gdal.GetDriverByName("MEM").Create("", w, h, 3, gdal.GDT_Byte)
    mem.SetGeoTransform(gt)
    if crs:
        mem.SetProjection(crs)
    for b in range(3):
        mem.GetRasterBand(b + 1).WriteArray(rgb[:, :, b])
    out = gdal.GetDriverByName("PNG").CreateCopy(str(path), mem, options=["WORLDFILE=YES"])
    if out is None:
        raise InputError(f"Cannot write the image chip {path}.")
    out = None


@gdal_exceptions()
def image_georeferencing(path: Path, images_dir: Optional[Path] = None) -> tuple[Optional[tuple], str, int, int]:
    """(geotransform or None, CRS WKT, width, height) of an image; an image without georeferencing
    takes that of the image of the same name in `images_dir` (its georeferenced original)."""
    from osgeo import gdal

    ds = gdal.Open(str(path))
    if ds is None:
        raise InputError(f"Cannot open the image {path}.")
    width, height = ds.RasterXSize, ds.RasterYSize
    gt, crs = _georef(ds)
    if gt is None and images_dir is not None:
        for candidate in sorted(Path(images_dir).glob(Path(path).stem + ".*")):
            other = gdal.Open(str(candidate)) if candidate.suffix.lower() not in (".wld", ".xml", ".txt") else None
            if other is not None:
                gt, crs = _georef(other)
                if gt is not None:
                    break
    return gt, crs, width, height


def _georef(ds) -> tuple[Optional[tuple], str]:
    gt = ds.GetGeoTransform(can_return_null=True)
    if gt is None or tuple(gt) == (0.0, 1.0, 0.0, 0.0, 0.0, 1.0):
        return None, ""
    return tuple(gt), ds.GetProjection() or ""
