"""Change regions: clean the mask in ground units, polygonise, describe each region."""
from __future__ import annotations

import math
import os
from typing import Optional

import numpy as np
from osgeo import gdal, ogr

from ..errors import InputError
from ..parallel import thread_imap
from ..polygons import min_area_rectangle
from ..progress import Progress
from .filters import binary_open_close
from .model import ChangeRegion, GridInfo
from .outputs import blocks, create_raster, srs_of, vector_layer

MASK_NODATA = 255
SCORE_NODATA = -1.0


STRIP_COLUMNS = 8192  # strips of rows, at most this wide (bounded memory)


def clean_mask(raw_path: str, out_path: str, grid: GridInfo, radius_px: int, min_area_px: int,
               block_size: int, progress: Progress, changed_path: Optional[str] = None) -> int:
    """Opening + closing (square, radius_px) strip by strip with a halo (on core/parallel's
    thread pool), then GDAL's sieve removes regions (and holes) smaller than min_area_px.

    Writes the final mask (0/1, nodata 255) to out_path and, when changed_path is given, an
    uncompressed 0/1 raster of the changed pixels only (what polygonise reads). Returns the
    number of changed pixels."""
    src = gdal.Open(raw_path)
    band = src.GetRasterBand(1)
    work_path = raw_path + ".clean.tif"
    dst = create_raster(work_path, grid, 1, gdal.GDT_Byte, MASK_NODATA, compress=False)
    out_band = dst.GetRasterBand(1)
    halo = 4 * radius_px + 1  # opening then closing: each output pixel sees 4r around it
    strips = list(blocks(grid.width, grid.height, min(grid.width, STRIP_COLUMNS), max(block_size, 256)))

    def clean(arr: np.ndarray, window: tuple[int, int, int, int, int, int]):
        valid = arr != MASK_NODATA
        cleaned = binary_open_close(arr == 1, radius_px) if radius_px > 0 else arr == 1
        return window, np.where(valid, cleaned.astype(np.uint8), MASK_NODATA).astype(np.uint8)

    def jobs():
        for i, (x, y, w, h) in enumerate(strips):
            progress.report(0.6 * i / len(strips), "Cleaning the change mask")
            x0, y0 = max(x - halo, 0), max(y - halo, 0)
            x1, y1 = min(x + w + halo, grid.width), min(y + h + halo, grid.height)
            yield band.ReadAsArray(x0, y0, x1 - x0, y1 - y0), (x, y, w, h, x0, y0)

    for (x, y, w, h, x0, y0), cleaned in thread_imap(clean, jobs()):
        out_band.WriteArray(cleaned[y - y0:y - y0 + h, x - x0:x - x0 + w], x, y)
    src = band = None
    if min_area_px > 1:
        progress.report(0.6, "Removing regions below the minimum area")
        gdal.SieveFilter(out_band, out_band.GetMaskBand(), out_band, int(min_area_px), 8)
    out_band.FlushCache()
    # final mask (compressed) and the changed-only raster in one streamed pass
    final = create_raster(out_path, grid, 1, gdal.GDT_Byte, MASK_NODATA)
    changed = create_raster(changed_path, grid, 1, gdal.GDT_Byte, None, compress=False) if changed_path else None
    n_changed = 0
    for i, (x, y, w, h) in enumerate(strips):
        progress.report(0.85 + 0.15 * i / len(strips), "Writing the change mask")
        arr = out_band.ReadAsArray(x, y, w, h)
        final.GetRasterBand(1).WriteArray(arr, x, y)
        is_changed = arr == 1
        n_changed += int(np.count_nonzero(is_changed))
        if changed is not None:
            changed.GetRasterBand(1).WriteArray(is_changed.view(np.uint8), x, y)
    final = changed = out_band = dst = None
    gdal.Unlink(work_path)
    progress.report(1.0, "Mask cleaned")
    return n_changed


def oriented_box(points: np.ndarray) -> tuple[float, float]:
    """Length and width of the minimum-area rectangle around points (0, 0 when degenerate)."""
    try:
        corners = min_area_rectangle(points)
    except InputError:
        return 0.0, 0.0
    a, b = (float(np.hypot(*(corners[1] - corners[0]))), float(np.hypot(*(corners[2] - corners[1]))))
    return max(a, b), min(a, b)


def polygon_mask(geom: ogr.Geometry, geotransform: tuple, width: int, height: int, srs=None) -> np.ndarray:
    """Pixels of a (height, width) window with this geotransform whose centre lies in geom."""
    mem = gdal.GetDriverByName("MEM").Create("", width, height, 1, gdal.GDT_Byte)
    mem.SetGeoTransform(geotransform)
    if srs is not None:
        mem.SetSpatialRef(srs)
    layer_ds = ogr.GetDriverByName("Memory").CreateDataSource("r")
    layer = layer_ds.CreateLayer("r", srs=srs)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(geom)
    layer.CreateFeature(feature)
    gdal.PushErrorHandler("CPLQuietErrorHandler")  # no CRS on either side: nothing to transform
    try:
        gdal.RasterizeLayer(mem, [1], layer, burn_values=[1])
    finally:
        gdal.PopErrorHandler()
    burnt = mem.ReadAsArray() > 0
    feature = layer = layer_ds = None  # the layer goes before its data source
    return burnt


def envelope_window(geom: ogr.Geometry, grid: GridInfo, pad: int = 0) -> tuple[int, int, int, int]:
    """(x0, y0, width, height) of the grid pixels under geom's envelope grown by pad pixels,
    clipped to the grid (width or height 0 when outside)."""
    gt = grid.geotransform
    minx, maxx, miny, maxy = geom.GetEnvelope()
    x0 = max(int(math.floor((minx - gt[0]) / gt[1])) - pad, 0)
    x1 = min(int(math.ceil((maxx - gt[0]) / gt[1])) + pad, grid.width)
    y0 = max(int(math.floor((maxy - gt[3]) / gt[5])) - pad, 0)
    y1 = min(int(math.ceil((miny - gt[3]) / gt[5])) + pad, grid.height)
    return x0, y0, max(x1 - x0, 0), max(y1 - y0, 0)


def _score_stats(score_ds: gdal.Dataset, geom: ogr.Geometry, grid: GridInfo, srs) -> tuple[float, float]:
    gt = grid.geotransform
    x0, y0, w, h = envelope_window(geom, grid)
    w, h = max(w, 1), max(h, 1)
    scale = max(1.0, math.sqrt(w * h / 4_000_000))  # huge regions: read decimated (bounded memory)
    bw, bh = max(int(w / scale), 1), max(int(h / scale), 1)
    scores = score_ds.GetRasterBand(1).ReadAsArray(x0, y0, w, h, buf_xsize=bw, buf_ysize=bh)
    window_gt = (gt[0] + x0 * gt[1], gt[1] * w / bw, 0.0, gt[3] + y0 * gt[5], 0.0, gt[5] * h / bh)
    inside = polygon_mask(geom, window_gt, bw, bh, srs) & (scores >= 0)
    if not inside.any():
        inside = scores >= 0
    if not inside.any():
        return 0.0, 0.0
    values = scores[inside]
    return float(values.mean()), float(values.max())


def zonal_scores(layer: ogr.Layer, score_ds: gdal.Dataset, grid: GridInfo, srs,
                 window: Optional[tuple[int, int, int, int]] = None, label_path: Optional[str] = None
                 ) -> dict[int, tuple[float, float]]:
    """Mean and max score of every polygon of layer over a window (x0, y0, w, h) of the grid
    (the whole grid by default): the polygons are burnt as labels into a scratch raster (a
    GeoTIFF at label_path, removed afterwards, or in memory), then label and score strips are
    reduced with bincount (no per-region reads)."""
    fids = [f.GetFID() for f in layer]
    layer.ResetReading()
    if not fids:
        return {}
    layer.CreateField(ogr.FieldDefn("label", ogr.OFTInteger))
    for i, feature in enumerate(layer, start=1):
        feature.SetField("label", i)
        layer.SetFeature(feature)
    layer.ResetReading()
    x0, y0, w, h = window or (0, 0, grid.width, grid.height)
    gt = grid.geotransform
    if label_path:
        labels = gdal.GetDriverByName("GTiff").Create(label_path, w, h, 1, gdal.GDT_Int32,
                                                      ["TILED=YES", "SPARSE_OK=YES", "BIGTIFF=IF_SAFER"])
    else:
        labels = gdal.GetDriverByName("MEM").Create("", w, h, 1, gdal.GDT_Int32)
    labels.SetGeoTransform((gt[0] + x0 * gt[1] + y0 * gt[2], gt[1], gt[2], gt[3] + x0 * gt[4] + y0 * gt[5], gt[4], gt[5]))
    if srs is not None:
        labels.SetSpatialRef(srs)
    gdal.PushErrorHandler("CPLQuietErrorHandler")  # no CRS on either side: nothing to transform
    try:
        gdal.RasterizeLayer(labels, [1], layer, options=["ATTRIBUTE=label"])
    finally:
        gdal.PopErrorHandler()
    n = len(fids) + 1
    sums, counts, maxes = np.zeros(n), np.zeros(n), np.full(n, -np.inf)
    label_band, score_band = labels.GetRasterBand(1), score_ds.GetRasterBand(1)
    for bx, by, bw, bh in blocks(w, h, min(w, STRIP_COLUMNS), 512):
        lab = label_band.ReadAsArray(bx, by, bw, bh)
        keep = lab > 0
        if not keep.any():
            continue
        score = score_band.ReadAsArray(x0 + bx, y0 + by, bw, bh)
        keep &= score >= 0
        lab, score = lab[keep], score[keep].astype(np.float64)
        sums += np.bincount(lab, score, n)
        counts += np.bincount(lab, minlength=n)
        np.maximum.at(maxes, lab, score)
    labels = label_band = None
    if label_path:
        gdal.Unlink(label_path)
    return {fid: (float(sums[i] / counts[i]), float(maxes[i])) for i, fid in enumerate(fids, start=1) if counts[i]}


REGION_FIELDS = [("area_m2", ogr.OFTReal), ("mean_score", ogr.OFTReal), ("max_score", ogr.OFTReal),
                 ("length_m", ogr.OFTReal), ("width_m", ogr.OFTReal), ("compactness", ogr.OFTReal),
                 ("centroid_x", ogr.OFTReal), ("centroid_y", ogr.OFTReal)]


def describe_region(geom: ogr.Geometry, scores: tuple[float, float], metres_per_unit: float) -> ChangeRegion:
    """Area, oriented length/width, compactness and centroid of one change polygon (CRS units -> metres)."""
    area = geom.GetArea() * metres_per_unit ** 2
    perimeter = geom.Boundary().Length() * metres_per_unit
    hull = geom.ConvexHull()
    ring = hull.GetGeometryRef(0) if hull.GetGeometryCount() else None
    pts = np.array(ring.GetPoints(), np.float64)[:-1, :2] if ring is not None and ring.GetPointCount() > 3 else np.zeros((0, 2))
    length, width = oriented_box(pts)
    centroid = geom.Centroid()
    return ChangeRegion(
        wkt=geom.ExportToWkt(), area_m2=area, mean_score=scores[0], max_score=scores[1],
        length_m=length * metres_per_unit, width_m=width * metres_per_unit,
        compactness=float(4 * math.pi * area / perimeter ** 2) if perimeter > 0 else 0.0,
        centroid_x=centroid.GetX(), centroid_y=centroid.GetY(),
    )


class RegionWriter:
    """Change regions appended to a GeoPackage layer (REGION_FIELDS) in one transaction;
    the first keep_in_memory are also kept as ChangeRegion objects."""

    def __init__(self, out_path: str, layer_name: str, grid: GridInfo, keep_in_memory: int = 100_000):
        self.ds, self.layer = vector_layer(out_path, layer_name, grid, REGION_FIELDS)
        self.defn = self.layer.GetLayerDefn()
        self.keep_in_memory = keep_in_memory
        self.regions: list[ChangeRegion] = []
        self.count, self.area = 0, 0.0
        self.layer.StartTransaction()

    def add(self, geom: ogr.Geometry, scores: tuple[float, float], metres_per_unit: float) -> ChangeRegion:
        region = describe_region(geom, scores, metres_per_unit)
        out = ogr.Feature(self.defn)
        out.SetGeometry(geom)
        for name, _ in REGION_FIELDS:
            out.SetField(name, float(getattr(region, name)))
        self.layer.CreateFeature(out)
        self.count += 1
        self.area += region.area_m2
        if len(self.regions) < self.keep_in_memory:
            self.regions.append(region)
        return region

    def close(self) -> tuple[list[ChangeRegion], int, float]:
        """Commit and close the GeoPackage; (regions kept in memory, region count, area m2)."""
        self.layer.CommitTransaction()
        self.layer = self.defn = None
        self.ds = None  # closes the GeoPackage
        return self.regions, self.count, self.area

    def discard(self) -> None:
        """Close without a result (the caller removes the file; a rollback would also undo
        the layer's creation, which GDAL then trips over when closing)."""
        if self.layer is not None:
            self.layer.CommitTransaction()
        self.layer = self.defn = self.ds = None


def polygonise(mask_path: str, score_path: str, out_path: str, layer_name: str, grid: GridInfo,
               metres_per_unit: float, progress: Progress, keep_in_memory: int = 100_000,
               changed_only: bool = False) -> tuple[list[ChangeRegion], int, float]:
    """Polygons of mask == 1 with their attributes, written to a GeoPackage layer
    (changed_only: mask_path holds 0/1 changed pixels without nodata, as clean_mask writes).

    Returns (regions kept in memory (up to keep_in_memory), region count, changed area m2)."""
    srs = srs_of(grid)
    mask_ds = gdal.Open(mask_path)
    score_ds = gdal.Open(score_path)
    band = mask_ds.GetRasterBand(1)
    # a 0/1 raster of changed pixels is its own mask: only changed regions are traced
    mask_band = band if changed_only else band.GetMaskBand()
    mem = ogr.GetDriverByName("Memory").CreateDataSource("polys")
    tmp_layer = mem.CreateLayer("polys", srs=srs, geom_type=ogr.wkbPolygon)
    tmp_layer.CreateField(ogr.FieldDefn("value", ogr.OFTInteger))
    progress.report(0.0, "Polygonising change regions")
    gdal.Polygonize(band, mask_band, tmp_layer, 0, ["8CONNECTED=8"])
    tmp_layer.SetAttributeFilter("value = 1")
    total = max(tmp_layer.GetFeatureCount(), 1)
    zonal = {}
    if changed_only:  # every region's score statistics in one streamed pass over a label raster
        progress.report(0.3, "Measuring change regions")
        zonal = zonal_scores(tmp_layer, score_ds, grid, srs, label_path=os.path.splitext(mask_path)[0] + ".labels.tif")
    writer = RegionWriter(out_path, layer_name, grid, keep_in_memory)
    for feature in tmp_layer:
        geom = feature.GetGeometryRef().Clone()
        stats = zonal.get(feature.GetFID())
        writer.add(geom, stats if stats else _score_stats(score_ds, geom, grid, srs), metres_per_unit)
        if writer.count % 200 == 0:
            progress.report(0.4 + 0.6 * writer.count / total, f"Describing change regions ({writer.count})")
    regions, count, area_total = writer.close()
    progress.report(1.0, f"{count} change regions")
    return regions, count, area_total
