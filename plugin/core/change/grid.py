"""Grid alignment of two captures: common CRS, overlap (clipped to an AOI), resolution,
band matching, validity (nodata, alpha, clouds, AOI). Everything stays virtual (VRT) so
reads stream block by block."""
from __future__ import annotations

import logging
import math
import os
import uuid
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from osgeo import gdal, ogr, osr

from ..errors import BandMismatch, EmptyRaster, InputError, MissingCRS, RastersDoNotOverlap, UnreadableRaster
from ..metric import utm_for
from ..raster import srs_from_wkt
from .model import GridInfo

LOG = logging.getLogger(__name__)

_NO_GEOTRANSFORM = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
_GENERIC_INTERP = {gdal.GCI_Undefined, gdal.GCI_GrayIndex, gdal.GCI_PaletteIndex}


@dataclass
class SourceInfo:
    path: str
    ds: gdal.Dataset
    georeferenced: bool
    srs: Optional[osr.SpatialReference]
    geotransform: tuple
    data_bands: list[int]  # 1-based band numbers of the source holding data
    alpha_band: Optional[int]
    keys: list[Optional[str]]  # meaning of each data band (colour interpretation or description)
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or os.path.basename(self.path)


def open_source(path: str, role: str = "raster") -> SourceInfo:
    """Open a raster with GDAL and describe it; UnreadableRaster when GDAL cannot."""
    if not path or not os.path.exists(path) and not path.startswith("/vsi"):
        raise UnreadableRaster(f"The {role} raster '{path}' does not exist.")
    try:
        ds = gdal.Open(path, gdal.GA_ReadOnly)
    except RuntimeError as exc:
        raise UnreadableRaster(f"GDAL cannot open the {role} raster '{path}': {exc}") from exc
    if ds is None or ds.RasterCount == 0:
        raise UnreadableRaster(f"The {role} raster '{path}' has no raster bands GDAL can read.")
    gt = tuple(ds.GetGeoTransform(can_return_null=True) or _NO_GEOTRANSFORM)
    georeferenced = gt != _NO_GEOTRANSFORM
    srs = ds.GetSpatialRef() if georeferenced else None
    if srs is not None:
        srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    data_bands, keys, alpha = [], [], None
    for i in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(i)
        interp = band.GetColorInterpretation()
        if interp == gdal.GCI_AlphaBand:
            alpha = i
            continue
        data_bands.append(i)
        if interp not in _GENERIC_INTERP:
            keys.append(gdal.GetColorInterpretationName(interp).lower())
        else:
            keys.append(band.GetDescription().strip().lower() or None)
    if not data_bands:
        raise UnreadableRaster(f"The {role} raster '{path}' has only an alpha band.")
    try:  # one tiny read proves the data are readable (broken files fail late otherwise)
        ds.GetRasterBand(data_bands[0]).ReadRaster(0, 0, 1, 1)
    except RuntimeError as exc:
        raise UnreadableRaster(f"GDAL cannot read pixels of the {role} raster '{path}': {exc}") from exc
    return SourceInfo(path, ds, georeferenced, srs, gt, data_bands, alpha, keys)


def match_bands(before: SourceInfo, after: SourceInfo, band_map=None) -> list[tuple[int, int]]:
    """Pairs (before band, after band), 1-based source band numbers."""
    if band_map:
        pairs = [(int(a), int(b)) for a, b in band_map]
        for a, b in pairs:
            if not 1 <= a <= before.ds.RasterCount or not 1 <= b <= after.ds.RasterCount:
                raise BandMismatch(
                    f"Band mapping {a}->{b} is invalid: {before.name} has {before.ds.RasterCount} "
                    f"bands and {after.name} has {after.ds.RasterCount}."
                )
        return pairs
    kb, ka = before.keys, after.keys
    known_b = all(kb) and len(set(kb)) == len(kb)
    known_a = all(ka) and len(set(ka)) == len(ka)
    if known_b and known_a and set(kb) & set(ka) and (len(kb) != len(ka) or set(kb) == set(ka)):
        pairs = [(before.data_bands[i], after.data_bands[ka.index(k)]) for i, k in enumerate(kb) if k in ka]
        return pairs
    if len(before.data_bands) == len(after.data_bands):
        return list(zip(before.data_bands, after.data_bands))
    if len(after.data_bands) == 1 or len(before.data_bands) == 1:
        raise BandMismatch(
            f"{before.name} has {len(before.data_bands)} bands and {after.name} has "
            f"{len(after.data_bands)}: give a band mapping (before band -> after band)."
        )
    raise BandMismatch(
        f"{before.name} has {len(before.data_bands)} bands and {after.name} has "
        f"{len(after.data_bands)} and their band names do not match: give a band mapping."
    )


def _corners(info: SourceInfo, gt: tuple, n: int = 21) -> np.ndarray:
    w, h = info.ds.RasterXSize, info.ds.RasterYSize
    t = np.linspace(0, 1, n)
    px = np.concatenate([t * w, np.full(n, w), (1 - t) * w, np.zeros(n)])
    py = np.concatenate([np.zeros(n), t * h, np.full(n, h), (1 - t) * h])
    return np.stack([gt[0] + px * gt[1] + py * gt[2], gt[3] + px * gt[4] + py * gt[5]], 1)


def _transform_points(points: np.ndarray, src: Optional[osr.SpatialReference], dst: Optional[osr.SpatialReference]) -> np.ndarray:
    if src is None or dst is None or src.IsSame(dst):
        return points
    ct = osr.CoordinateTransformation(src, dst)
    out = ct.TransformPoints([(float(x), float(y)) for x, y in points])
    return np.array([(p[0], p[1]) for p in out if math.isfinite(p[0]) and math.isfinite(p[1])])


class _VsiFiles:
    """Remembers /vsimem files to unlink them when the pair closes."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    def new(self, suffix: str) -> str:
        path = f"/vsimem/sitewatch_{uuid.uuid4().hex}{suffix}"
        self.paths.append(path)
        return path

    def unlink_all(self) -> None:
        for path in self.paths:
            try:
                gdal.Unlink(path)
            except RuntimeError:
                pass
        self.paths.clear()


@dataclass
class AlignedView:
    """One capture seen on the common grid."""

    ds: gdal.Dataset
    bands: list[int]  # band numbers in ds, in pair order
    mask_ds: Optional[gdal.Dataset] = None  # extra invalid mask on the grid (clouds), non-zero = invalid
    # when the grid is a plain window of the source file: read it directly (no VRT layer)
    source: Optional[gdal.Dataset] = None
    source_bands: Optional[list[int]] = None
    source_offset: tuple[int, int] = (0, 0)

    def read(self, x0: int, y0: int, w: int, h: int, native: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Bands (b, h, w) float32 (native=True: the source data type) and validity (h, w) for a
        window that may leave the grid (outside parts are edge-replicated and marked invalid)."""
        full_w, full_h = self.ds.RasterXSize, self.ds.RasterYSize
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + w, full_w), min(y0 + h, full_h)
        if cx1 <= cx0 or cy1 <= cy0:
            dtype = self.data_type() if native else np.float32
            return np.zeros((len(self.bands), h, w), dtype), np.zeros((h, w), bool)
        cw, ch = cx1 - cx0, cy1 - cy0
        ds, bands, sx, sy = self._source_window(cx0, cy0)
        arr = ds.ReadAsArray(sx, sy, cw, ch, band_list=bands).reshape(len(bands), ch, cw)
        ok = self._validity(arr, cx0, cy0)  # on the native type: integers need no finiteness test
        if not native:
            arr = arr.astype(np.float32, copy=False)
        pads = ((cy0 - y0, y0 + h - cy1), (cx0 - x0, x0 + w - cx1))
        if any(pads[0]) or any(pads[1]):
            arr = np.pad(arr, ((0, 0),) + pads, mode="edge")
            ok = np.pad(ok, pads, mode="constant")
        return arr, ok

    def read_into(self, data: np.ndarray, valid: np.ndarray, x0: int, y0: int) -> None:
        """read(x0, y0, w, h, native=True) into existing arrays (b, h, w) and (h, w), views of a
        larger buffer allowed: GDAL decodes straight into them when the window is on the grid."""
        h, w = valid.shape
        if x0 < 0 or y0 < 0 or x0 + w > self.ds.RasterXSize or y0 + h > self.ds.RasterYSize or not (h and w):
            data[...], valid[...] = self.read(x0, y0, w, h, native=True)
            return
        ds, bands, sx, sy = self._source_window(x0, y0)
        ds.ReadAsArray(sx, sy, w, h, band_list=bands, buf_obj=data)
        valid[...] = self._validity(data, x0, y0)

    def _source_window(self, x0: int, y0: int) -> tuple[gdal.Dataset, list[int], int, int]:
        """The dataset read, its bands and the offset of grid pixel (x0, y0) in it."""
        if self.source is not None:
            return self.source, self.source_bands, x0 + self.source_offset[0], y0 + self.source_offset[1]
        return self.ds, self.bands, x0, y0

    def _validity(self, arr: np.ndarray, x0: int, y0: int) -> np.ndarray:
        """Valid pixels of data `arr` read at grid (x0, y0): the file's masks, the extra mask, finite values."""
        ch, cw = arr.shape[-2:]
        ds, bands, sx, sy = self._source_window(x0, y0)
        ok = np.ones((ch, cw), bool)
        first = ds.GetRasterBand(bands[0])
        if first.GetMaskFlags() != gdal.GMF_ALL_VALID:
            for b in bands:
                ok &= ds.GetRasterBand(b).GetMaskBand().ReadAsArray(sx, sy, cw, ch) > 0
                if first.GetMaskFlags() & gdal.GMF_PER_DATASET:
                    break
        if self.mask_ds is not None:
            ok &= self.mask_ds.GetRasterBand(1).ReadAsArray(x0, y0, cw, ch) == 0
        if not np.issubdtype(arr.dtype, np.integer):
            ok &= np.all(np.isfinite(arr), axis=0)
        return ok

    def row_grain(self) -> tuple[int, int]:
        """(rows per block of the file read, grid row of a block boundary): reads that start and
        end on block boundaries decode each compressed block once."""
        return self._grain(1)

    def column_grain(self) -> tuple[int, int]:
        """(columns per block of the file read, grid column of a block boundary)."""
        return self._grain(0)

    def _grain(self, axis: int) -> tuple[int, int]:
        ds, bands, sx, sy = self._source_window(0, 0)
        size = max(1, ds.GetRasterBand(bands[0]).GetBlockSize()[axis])
        return size, -(sx, sy)[axis] % size

    def data_type(self) -> np.dtype:
        from osgeo import gdal_array

        ds, bands, _, _ = self._source_window(0, 0)
        return np.dtype(gdal_array.GDALTypeCodeToNumericTypeCode(ds.GetRasterBand(bands[0]).DataType))


@dataclass
class AlignedPair:
    grid: GridInfo
    before: AlignedView
    after: AlignedView
    band_pairs: list[tuple[int, int]]
    aoi_ds: Optional[gdal.Dataset] = None  # Byte on the grid, 1 inside the AOI
    before_name: str = "before"
    after_name: str = "after"
    _vsi: _VsiFiles = field(default_factory=_VsiFiles)
    _temp_files: list[str] = field(default_factory=list)
    _sources: list = field(default_factory=list)

    @property
    def band_keys(self) -> list[Optional[str]]:
        """Meaning of each paired band (the before capture's colour interpretation or description)."""
        if not self._sources:
            return [None] * len(self.band_pairs)
        info = self._sources[0]
        return [info.keys[info.data_bands.index(b)] if b in info.data_bands else None for b, _ in self.band_pairs]

    def aoi(self, x0: int, y0: int, w: int, h: int) -> Optional[np.ndarray]:
        if self.aoi_ds is None:
            return None
        out = np.zeros((h, w), bool)
        cx0, cy0 = max(x0, 0), max(y0, 0)
        cx1, cy1 = min(x0 + w, self.grid.width), min(y0 + h, self.grid.height)
        if cx1 > cx0 and cy1 > cy0:
            out[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0] = self.aoi_ds.ReadAsArray(cx0, cy0, cx1 - cx0, cy1 - cy0) > 0
        return out

    def close(self) -> None:
        self.before = self.after = None  # type: ignore[assignment]
        self.aoi_ds = None
        self._sources.clear()
        self._vsi.unlink_all()
        for path in self._temp_files:
            try:
                os.remove(path)
            except OSError:
                pass


def _grid_compatible(info_gt: tuple, srs_same: bool, grid_gt: tuple) -> Optional[tuple[int, int]]:
    """Pixel offset of the grid inside a source on the same lattice (no resampling), else None."""
    if not srs_same or info_gt[2] or info_gt[4]:
        return None
    if not (math.isclose(info_gt[1], grid_gt[1], rel_tol=1e-9) and math.isclose(info_gt[5], grid_gt[5], rel_tol=1e-9)):
        return None
    ox = (grid_gt[0] - info_gt[0]) / info_gt[1]
    oy = (grid_gt[3] - info_gt[3]) / info_gt[5]
    if abs(ox - round(ox)) > 1e-6 or abs(oy - round(oy)) > 1e-6:
        return None
    return int(round(ox)), int(round(oy))


def _source_view(info: SourceInfo, bands: list[int], gt: tuple, srs_wkt: str, vsi: _VsiFiles) -> gdal.Dataset:
    """A VRT of the source with only the paired data bands, georeferenced as given."""
    options = {"format": "VRT", "bandList": bands}
    if info.alpha_band:
        options["maskBand"] = info.alpha_band
    view = gdal.Translate(vsi.new(".vrt"), info.ds, **options)
    if not info.georeferenced:
        view.SetGeoTransform(gt)
        if srs_wkt:
            view.SetProjection(srs_wkt)
    return view


def _direct_window(info: SourceInfo, gt: tuple, srs_same: bool, grid: GridInfo) -> Optional[tuple[int, int]]:
    """Offset of the grid inside the source file when it is a plain window of it (read directly)."""
    offset = _grid_compatible(gt, srs_same, grid.geotransform)
    if offset is None:
        return None
    x, y = offset
    ds = info.ds
    if x >= 0 and y >= 0 and x + grid.width <= ds.RasterXSize and y + grid.height <= ds.RasterYSize:
        return x, y
    return None


def _on_grid(view: gdal.Dataset, view_gt: tuple, srs_same: bool, grid: GridInfo, vsi: _VsiFiles,
             resample: str, alpha: bool = True) -> gdal.Dataset:
    offset = _grid_compatible(view_gt, srs_same, grid.geotransform)
    if offset is not None:
        x, y = offset
        if x >= 0 and y >= 0 and x + grid.width <= view.RasterXSize and y + grid.height <= view.RasterYSize:
            return gdal.Translate(vsi.new(".vrt"), view, format="VRT", srcWin=[x, y, grid.width, grid.height])
    gt = grid.geotransform
    bounds = (gt[0], gt[3] + gt[5] * grid.height, gt[0] + gt[1] * grid.width, gt[3])
    kwargs = dict(format="VRT", outputBounds=bounds, width=grid.width, height=grid.height,
                  resampleAlg=resample, dstAlpha=alpha, multithread=True)
    if grid.crs_wkt:
        kwargs["dstSRS"] = grid.crs_wkt
    return gdal.Warp(vsi.new(".vrt"), view, **kwargs)


def align_pair(
    before_path: str,
    after_path: str,
    aoi_wkt: Optional[str] = None,
    aoi_crs_wkt: Optional[str] = None,
    band_map=None,
    resolution: object = "coarser",
    cloud_mask_before: Optional[str] = None,
    cloud_mask_after: Optional[str] = None,
    pixel_size_m: float = 1.0,
    temp_dir: Optional[str] = None,
    reference_grid: bool = False,
) -> AlignedPair:
    """Put both captures on one grid (the before raster's CRS and lattice).

    reference_grid=True keeps the before raster's full grid (co-registration output) instead
    of the overlap."""
    before = open_source(before_path, "before")
    after = open_source(after_path, "after")
    if before.name == after.name:  # same file name in two folders: name them by folder too
        before.label = os.path.join(os.path.basename(os.path.dirname(before.path)), before.name)
        after.label = os.path.join(os.path.basename(os.path.dirname(after.path)), after.name)
    pairs = match_bands(before, after, band_map)
    vsi = _VsiFiles()
    try:
        return _align(before, after, pairs, aoi_wkt, aoi_crs_wkt, resolution, cloud_mask_before,
                      cloud_mask_after, pixel_size_m, temp_dir, reference_grid, vsi)
    except Exception:
        vsi.unlink_all()
        raise


def _align(before, after, pairs, aoi_wkt, aoi_crs_wkt, resolution, cloud_b, cloud_a, pixel_size_m,
           temp_dir, reference_grid, vsi) -> AlignedPair:
    ps = float(pixel_size_m)
    # georeferencing: adopt the other's grid, or a local pixel grid, when one lacks it
    if before.georeferenced and after.georeferenced:
        if (before.srs is None) != (after.srs is None):
            missing = before if before.srs is None else after
            raise MissingCRS(
                f"{missing.name} has a geotransform but no coordinate reference system; assign its CRS "
                f"(it cannot be compared with {(after if missing is before else before).name} otherwise)."
            )
        gt_b, gt_a = before.geotransform, after.geotransform
    else:
        if (before.ds.RasterXSize, before.ds.RasterYSize) != (after.ds.RasterXSize, after.ds.RasterYSize):
            raise InputError(
                f"{before.name if not before.georeferenced else after.name} has no georeferencing and its size "
                f"differs from the other capture's; georeference it or give two images of the same size."
            )
        ref = before if before.georeferenced else after if after.georeferenced else None
        gt_ref = ref.geotransform if ref else (0.0, ps, 0.0, 0.0, 0.0, -ps)
        gt_b = before.geotransform if before.georeferenced else gt_ref
        gt_a = after.geotransform if after.georeferenced else gt_ref
        if ref is not None:
            before.srs = before.srs or ref.srs
            after.srs = after.srs or ref.srs
    srs = before.srs
    if srs is not None and srs.IsGeographic():  # degrees: analyse in metres, on the local UTM zone
        lon, lat = gt_b[0] + gt_b[1] * before.ds.RasterXSize / 2, gt_b[3] + gt_b[5] * before.ds.RasterYSize / 2
        srs = utm_for(lon, lat)
    before_same = srs is before.srs
    crs_wkt = srs.ExportToWkt() if srs is not None else ""
    srs_same = srs is None or after.srs is None or srs.IsSame(after.srs)

    # footprints in the grid's CRS
    cb = _transform_points(_corners(before, gt_b), before.srs, srs)
    ca = _transform_points(_corners(after, gt_a), after.srs, srs)
    if len(ca) == 0:
        raise RastersDoNotOverlap(f"{before.name} and {after.name} share no area (footprint not transformable).")
    box = [max(cb[:, 0].min(), ca[:, 0].min()), max(cb[:, 1].min(), ca[:, 1].min()),
           min(cb[:, 0].max(), ca[:, 0].max()), min(cb[:, 1].max(), ca[:, 1].max())]
    if box[2] <= box[0] or box[3] <= box[1]:
        raise RastersDoNotOverlap(f"{before.name} and {after.name} share no area.")
    if reference_grid:
        box = [cb[:, 0].min(), cb[:, 1].min(), cb[:, 0].max(), cb[:, 1].max()]
    aoi_geom = None
    if aoi_wkt:
        try:
            aoi_geom = ogr.CreateGeometryFromWkt(aoi_wkt)
        except RuntimeError as exc:
            raise InputError(f"The area of interest is not a valid WKT geometry: {exc}") from exc
        aoi_srs = srs_from_wkt(aoi_crs_wkt)
        if aoi_srs is not None and srs is not None and not aoi_srs.IsSame(srs):
            aoi_geom.Transform(osr.CoordinateTransformation(aoi_srs, srs))
        minx, maxx, miny, maxy = aoi_geom.GetEnvelope()
        box = [max(box[0], minx), max(box[1], miny), min(box[2], maxx), min(box[3], maxy)]
    if box[2] <= box[0] or box[3] <= box[1]:
        where = " inside the area of interest" if aoi_geom is not None else ""
        raise RastersDoNotOverlap(f"{before.name} and {after.name} share no area{where}.")

    # resolution: square pixels in before CRS units
    res_b = max(abs(gt_b[1]), abs(gt_b[5])) if before_same else max(
        (cb[:, 0].max() - cb[:, 0].min()) / before.ds.RasterXSize, (cb[:, 1].max() - cb[:, 1].min()) / before.ds.RasterYSize)
    ext_a = max((ca[:, 0].max() - ca[:, 0].min()) / after.ds.RasterXSize,
                (ca[:, 1].max() - ca[:, 1].min()) / after.ds.RasterYSize)
    res_a = max(abs(gt_a[1]), abs(gt_a[5])) if srs_same else ext_a
    if isinstance(resolution, (int, float)) and not isinstance(resolution, bool):
        res = float(resolution)
    else:
        rule = str(resolution or "coarser").lower()
        res = {"coarser": max(res_b, res_a), "finer": min(res_b, res_a), "before": res_b, "after": res_a}.get(rule)
        if res is None:
            raise InputError(f"Unknown resolution rule '{resolution}' (use coarser, finer, before, after or a size).")
    # snap the box onto the before raster's lattice when the resolution is its own
    x0, y0 = gt_b[0], gt_b[3]
    if math.isclose(res, abs(gt_b[1])) and math.isclose(res, abs(gt_b[5])) and not gt_b[2] and not gt_b[4]:
        box[0] = x0 + math.ceil((box[0] - x0) / res - 1e-6) * res
        box[2] = x0 + math.floor((box[2] - x0) / res + 1e-6) * res
        box[3] = y0 - math.ceil((y0 - box[3]) / res - 1e-6) * res
        box[1] = y0 - math.floor((y0 - box[1]) / res + 1e-6) * res
    width = int(math.floor((box[2] - box[0]) / res + 1e-6))
    height = int(math.floor((box[3] - box[1]) / res + 1e-6))
    if width < 8 or height < 8:
        raise RastersDoNotOverlap(
            f"{before.name} and {after.name} overlap by less than 8 pixels ({width} x {height})."
        )
    grid = GridInfo(crs_wkt, (box[0], res, 0.0, box[3], 0.0, -res), width, height)

    view_b = _source_view(before, [p[0] for p in pairs], gt_b, crs_wkt, vsi)
    view_a = _source_view(after, [p[1] for p in pairs], gt_a, after.srs.ExportToWkt() if after.srs else "", vsi)
    resample = "average" if res > 1.5 * min(res_b, res_a) else "bilinear"
    n = len(pairs)
    on_b = _on_grid(view_b, gt_b, before_same, grid, vsi, resample)
    on_a = _on_grid(view_a, gt_a, srs_same, grid, vsi, resample)
    direct_b = _direct_window(before, gt_b, before_same, grid)
    direct_a = _direct_window(after, gt_a, srs_same, grid)

    def cloud_view(path, role):
        if not path:
            return None
        info = open_source(path, role)
        gt = info.geotransform if info.georeferenced else gt_b
        mview = gdal.Translate(vsi.new(".vrt"), info.ds, format="VRT", bandList=[1])
        if not info.georeferenced:
            mview.SetGeoTransform(gt)
        same = srs is None or info.srs is None or srs.IsSame(info.srs)
        return _on_grid(mview, gt, same, grid, vsi, "near", alpha=False)

    pair = AlignedPair(
        grid=grid,
        before=AlignedView(on_b, list(range(1, n + 1)), cloud_view(cloud_b, "cloud mask (before)"),
                           *((before.ds, [p[0] for p in pairs], direct_b) if direct_b else ())),
        after=AlignedView(on_a, list(range(1, n + 1)), cloud_view(cloud_a, "cloud mask (after)"),
                          *((after.ds, [p[1] for p in pairs], direct_a) if direct_a else ())),
        band_pairs=pairs,
        before_name=before.name,
        after_name=after.name,
        _vsi=vsi,
        _sources=[before, after],
    )
    if aoi_geom is not None:
        path = os.path.join(temp_dir or "/vsimem", f"sitewatch_aoi_{uuid.uuid4().hex}.tif")
        if path.startswith("/vsimem"):
            vsi.paths.append(path)
        else:
            pair._temp_files.append(path)
        ds = gdal.GetDriverByName("GTiff").Create(path, width, height, 1, gdal.GDT_Byte,
                                                  ["TILED=YES", "COMPRESS=DEFLATE", "SPARSE_OK=YES"])
        ds.SetGeoTransform(grid.geotransform)
        if crs_wkt:
            ds.SetProjection(crs_wkt)
        mem = ogr.GetDriverByName("Memory").CreateDataSource("aoi")
        layer = mem.CreateLayer("aoi", srs=srs)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetGeometry(aoi_geom)
        layer.CreateFeature(feature)
        gdal.RasterizeLayer(ds, [1], layer, burn_values=[1])
        ds.FlushCache()
        pair.aoi_ds = ds
    return pair


def check_not_empty(pair: AlignedPair, probes: int = 12) -> None:
    """EmptyRaster when either capture holds no valid pixel on the grid (probed on tiles,
    then confirmed with a full streamed scan when the probes see nothing)."""
    for view, name in ((pair.before, pair.before_name), (pair.after, pair.after_name)):
        if not _has_valid(view, pair, probes):
            raise EmptyRaster(f"{name} holds only nodata over the common area of the two captures.")


def _has_valid(view: AlignedView, pair: AlignedPair, probes: int) -> bool:
    g = pair.grid
    size = 64
    xs = np.linspace(0, max(g.width - size, 0), min(probes, max(1, g.width // size))).astype(int)
    ys = np.linspace(0, max(g.height - size, 0), min(probes, max(1, g.height // size))).astype(int)
    for y in ys:
        for x in xs:
            _, valid = view.read(int(x), int(y), min(size, g.width), min(size, g.height))
            aoi = pair.aoi(int(x), int(y), min(size, g.width), min(size, g.height))
            if (valid if aoi is None else valid & aoi).any():
                return True
    step = 1024
    for y in range(0, g.height, step):
        for x in range(0, g.width, step):
            w, h = min(step, g.width - x), min(step, g.height - y)
            _, valid = view.read(x, y, w, h)
            aoi = pair.aoi(x, y, w, h)
            if (valid if aoi is None else valid & aoi).any():
                return True
    return False
