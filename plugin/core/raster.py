"""Opening rasters and describing their grid: size, georeferencing, ground sample distance."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from osgeo import gdal, osr

from .errors import UnreadableRaster
from .gdal_scope import gdal_exceptions


_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


@gdal_exceptions()
def open_raster(path: str, update: bool = False) -> gdal.Dataset:
    """Open a raster with GDAL or raise UnreadableRaster saying why."""
    if not path:
        raise UnreadableRaster("No raster was given.")
    name = Path(str(path)).name
    try:
        ds = gdal.Open(str(path), gdal.GA_Update if update else gdal.GA_ReadOnly)
    except RuntimeError as exc:
        if not str(path).startswith("/vsi") and not Path(str(path)).exists():
            raise UnreadableRaster(f"The raster {path} does not exist.") from exc
        raise UnreadableRaster(f"GDAL cannot open the raster {name}: {exc}") from exc
    if ds is None:
        raise UnreadableRaster(f"GDAL cannot open the raster {name}.")
    if ds.RasterCount < 1 or ds.RasterXSize < 1 or ds.RasterYSize < 1:
        raise UnreadableRaster(f"The raster {name} has no pixels or no bands.")
    return ds


@dataclass
class RasterInfo:
    """What the core needs to know about a raster's grid and bands."""

    path: str
    width: int
    height: int
    band_count: int
    geotransform: tuple
    crs_wkt: str
    gsd_m: float  # mean pixel size in metres (geographic CRS converted at the centre latitude)
    nodata: Optional[float]
    dtype: str  # numpy dtype name of band 1
    band_descriptions: list = field(default_factory=list)

    @property
    def is_georeferenced(self) -> bool:
        return bool(self.crs_wkt) and self.geotransform != (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    def pixel_to_map(self, px: float, py: float) -> tuple[float, float]:
        return pixel_to_map(self.geotransform, px, py)

    def map_to_pixel(self, x: float, y: float) -> tuple[float, float]:
        return map_to_pixel(self.geotransform, x, y)


@gdal_exceptions()
def raster_info(path_or_ds) -> RasterInfo:
    """Describe a raster given as a path or an open dataset."""
    ds = path_or_ds if isinstance(path_or_ds, gdal.Dataset) else open_raster(path_or_ds)
    gt = tuple(float(v) for v in ds.GetGeoTransform(can_return_null=False) or (0, 1, 0, 0, 0, 1))
    crs_wkt = ds.GetProjection() or ""
    band = ds.GetRasterBand(1)
    from osgeo import gdal_array

    dtype = gdal_array.GDALTypeCodeToNumericTypeCode(band.DataType)
    descriptions = [ds.GetRasterBand(i + 1).GetDescription() or "" for i in range(ds.RasterCount)]
    return RasterInfo(
        path=ds.GetDescription(),
        width=ds.RasterXSize,
        height=ds.RasterYSize,
        band_count=ds.RasterCount,
        geotransform=gt,
        crs_wkt=crs_wkt,
        gsd_m=gsd_metres(gt, crs_wkt, ds.RasterXSize, ds.RasterYSize),
        nodata=band.GetNoDataValue(),
        dtype=dtype.__name__ if dtype is not None else "float64",
        band_descriptions=descriptions,
    )


def pixel_size(geotransform: Sequence[float]) -> tuple[float, float]:
    """Pixel width and height in CRS units (positive), allowing rotated geotransforms."""
    gt = geotransform
    return math.hypot(gt[1], gt[4]), math.hypot(gt[2], gt[5])


@gdal_exceptions()
def gsd_metres(geotransform: Sequence[float], crs_wkt: str, width: int = 0, height: int = 0) -> float:
    """Mean pixel size in metres: CRS linear units, or degrees converted at the centre latitude."""
    sx, sy = pixel_size(geotransform)
    if not crs_wkt:
        return float((sx + sy) / 2.0)
    srs = osr.SpatialReference()
    try:
        srs.ImportFromWkt(crs_wkt)
    except RuntimeError:
        return float((sx + sy) / 2.0)
    if srs.IsGeographic():
        _, lat = pixel_to_map(geotransform, width / 2.0, height / 2.0)
        phi = math.radians(max(-89.9, min(89.9, lat)))
        w = math.sqrt(1.0 - _WGS84_E2 * math.sin(phi) ** 2)
        m_per_deg_lat = math.pi / 180.0 * _WGS84_A * (1.0 - _WGS84_E2) / w ** 3
        m_per_deg_lon = math.pi / 180.0 * _WGS84_A * math.cos(phi) / w
        return float((sx * m_per_deg_lon + sy * m_per_deg_lat) / 2.0)
    return float((sx + sy) / 2.0 * srs.GetLinearUnits())


def pixel_to_map(geotransform: Sequence[float], px, py):
    """Map coordinates of pixel coordinates (scalars or numpy arrays; (0, 0) = top-left corner)."""
    gt = geotransform
    return gt[0] + px * gt[1] + py * gt[2], gt[3] + px * gt[4] + py * gt[5]


def map_to_pixel(geotransform: Sequence[float], x, y):
    """Pixel coordinates (fractional) of map coordinates (scalars or numpy arrays)."""
    gt = geotransform
    det = gt[1] * gt[5] - gt[2] * gt[4]
    if det == 0:
        raise UnreadableRaster("The raster's geotransform is degenerate (zero pixel size).")
    dx, dy = x - gt[0], y - gt[3]
    return (gt[5] * dx - gt[2] * dy) / det, (-gt[4] * dx + gt[1] * dy) / det


@gdal_exceptions()
def srs_from_wkt(crs_wkt: Optional[str]) -> Optional[osr.SpatialReference]:
    """A spatial reference in x/y (easting/northing, lon/lat) axis order; None without a CRS."""
    if not crs_wkt:
        return None
    srs = osr.SpatialReference()
    srs.SetFromUserInput(crs_wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs
