"""Output rasters and vectors written under temporary names, renamed when complete."""
from __future__ import annotations

import math
import os
import uuid
from typing import Iterator, Optional

import numpy as np
from osgeo import gdal, ogr, osr

from .. import scratch
from .filters import half_bands
from .model import GridInfo

def _compression() -> list[str]:
    """ZSTD (fast to write and read) when this GDAL has it, else DEFLATE."""
    meta = gdal.GetDriverByName("GTiff").GetMetadataItem("DMD_CREATIONOPTIONLIST") or ""
    return ["COMPRESS=ZSTD", "ZSTD_LEVEL=1"] if "ZSTD" in meta else ["COMPRESS=DEFLATE", "ZLEVEL=1"]


GTIFF_OPTIONS = ["TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", *_compression(), "NUM_THREADS=ALL_CPUS",
                 "BIGTIFF=IF_SAFER"]


def temp_name(final_path: str) -> str:
    """A name for writing in this process's run folder beside the output (same file system, so
    the final rename is atomic; a killed run's folder is removed by the next run there)."""
    folder, name = os.path.split(os.path.abspath(final_path))
    stem, ext = os.path.splitext(name)
    return os.path.join(scratch.run_folder(folder), f"{stem}.part-{uuid.uuid4().hex[:8]}{ext}")


def create_raster(path: str, grid: GridInfo, bands: int, data_type: int, nodata: Optional[float],
                  predictor: Optional[int] = None, compress: bool = True) -> gdal.Dataset:
    options = list(GTIFF_OPTIONS) + ([f"PREDICTOR={predictor}"] if predictor else [])
    if not compress:  # scratch files rewritten in place (sieve): no recompression
        options = [o for o in options if not o.startswith(("COMPRESS", "ZLEVEL", "ZSTD_LEVEL", "PREDICTOR"))]
    ds = gdal.GetDriverByName("GTiff").Create(path, grid.width, grid.height, bands, data_type, options)
    ds.SetGeoTransform(grid.geotransform)
    if grid.crs_wkt:
        ds.SetProjection(grid.crs_wkt)
    if nodata is not None:
        for i in range(1, bands + 1):
            ds.GetRasterBand(i).SetNoDataValue(nodata)
    return ds


def blocks(width: int, height: int, size: int, size_y: Optional[int] = None) -> Iterator[tuple[int, int, int, int]]:
    size_y = size_y or size
    for y in range(0, height, size_y):
        for x in range(0, width, size):
            yield x, y, min(size, width - x), min(size_y, height - y)


def overview_levels(width: int, height: int) -> list[int]:
    levels, f = [], 2
    while max(width, height) / f >= 128:
        levels.append(f)
        f *= 2
    return levels


def build_overviews(path: str) -> None:
    ds = gdal.Open(path, gdal.GA_Update)
    levels = overview_levels(ds.RasterXSize, ds.RasterYSize)
    if levels:
        gdal.SetConfigOption("COMPRESS_OVERVIEW", GTIFF_OPTIONS[3].split("=")[1])
        try:
            ds.BuildOverviews("AVERAGE", levels)
        finally:
            gdal.SetConfigOption("COMPRESS_OVERVIEW", None)
    ds = None


def half_mean(array: np.ndarray, nodata: float) -> np.ndarray:
    """2 x 2 mean ignoring nodata (odd edges: the pixels present), like GDAL's AVERAGE."""
    h, w = array.shape
    if h % 2 or w % 2:
        array = np.pad(array, ((0, h % 2), (0, w % 2)), constant_values=nodata)
    valid = array != nodata
    if valid.all():  # the usual block: a plain 2 x 2 mean
        return half_bands(array[None])[0].astype(array.dtype, copy=False)
    values = np.where(valid, array, 0).astype(np.float32, copy=False)
    total = values[0::2, 0::2] + values[1::2, 0::2] + values[0::2, 1::2] + values[1::2, 1::2]
    count = (valid[0::2, 0::2].astype(np.uint8) + valid[1::2, 0::2] + valid[0::2, 1::2] + valid[1::2, 1::2])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), nodata).astype(array.dtype, copy=False)


class OverviewWriter:
    """Overviews (2x, 4x, ...; AVERAGE ignoring nodata) computed while the full-resolution
    blocks are written, so the raster is never read back. Blocks must start at multiples of
    block_size; levels that do not divide block_size are cascaded from the last one in finish()."""

    def __init__(self, ds: gdal.Dataset, nodata: float, block_size: int):
        self.ds, self.nodata = ds, nodata
        self.levels = overview_levels(ds.RasterXSize, ds.RasterYSize)
        self.in_pass = [f for f in self.levels if block_size % f == 0]
        if self.levels:
            ds.BuildOverviews("NONE", self.levels)  # empty levels, filled block by block

    def add(self, array: np.ndarray, x: int, y: int, band: int = 1) -> None:
        self._cascade(array, x, y, 1, self.in_pass, band)

    def _cascade(self, array: np.ndarray, x: int, y: int, factor: int, levels: list[int], band: int) -> None:
        b = self.ds.GetRasterBand(band)
        for f in levels:
            while factor < f:
                array = half_mean(array, self.nodata)
                factor *= 2
            b.GetOverview(self.levels.index(f)).WriteArray(array, x // f, y // f)

    def finish(self, band: int = 1) -> None:
        rest = [f for f in self.levels if f not in self.in_pass]
        if not rest:
            return
        base = self.in_pass[-1] if self.in_pass else 1
        self.ds.FlushCache()
        src = self.ds.GetRasterBand(band)
        if self.in_pass:
            src = src.GetOverview(self.levels.index(base))
        step = max(rest[-1] // base, 1)
        size = step * max(1, 1024 // step)
        for oy in range(0, src.YSize, size):
            for ox in range(0, src.XSize, size):
                w, h = min(size, src.XSize - ox), min(size, src.YSize - oy)
                self._cascade(src.ReadAsArray(ox, oy, w, h), ox * base, oy * base, base, rest, band)


def remove_quietly(*paths: Optional[str]) -> None:
    for path in paths:
        if not path:
            continue
        for p in (path, path + "-wal", path + "-shm", path + ".aux.xml", path + ".ovr"):
            try:
                if os.path.exists(p):
                    os.remove(p)
            except OSError:
                pass
        scratch.release(path)


def publish(temp_path: str, final_path: str) -> None:
    """Replace final_path by the completed temp file."""
    remove_quietly(final_path)
    os.replace(temp_path, final_path)
    if os.path.exists(temp_path + ".aux.xml"):
        os.replace(temp_path + ".aux.xml", final_path + ".aux.xml")
    scratch.release(temp_path)


def metres_per_unit(grid: GridInfo) -> float:
    """Ground metres per CRS unit (approximate for geographic CRSs; 1 without a CRS)."""
    if not grid.crs_wkt:
        return 1.0
    srs = osr.SpatialReference()
    srs.ImportFromWkt(grid.crs_wkt)
    if srs.IsGeographic():
        gt = grid.geotransform
        lat = gt[3] + gt[5] * grid.height / 2
        return 111_320.0 * math.sqrt(max(math.cos(math.radians(lat)), 1e-6))
    return srs.GetLinearUnits() or 1.0


def srs_of(grid: GridInfo) -> Optional[osr.SpatialReference]:
    if not grid.crs_wkt:
        return None
    srs = osr.SpatialReference()
    srs.ImportFromWkt(grid.crs_wkt)
    return srs


def vector_layer(path: str, layer_name: str, grid: GridInfo, fields: list[tuple[str, int]]):
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    layer = ds.CreateLayer(layer_name, srs=srs_of(grid), geom_type=ogr.wkbPolygon, options=["FID=fid"])
    for name, kind in fields:
        layer.CreateField(ogr.FieldDefn(name, kind))
    return ds, layer
