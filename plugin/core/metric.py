"""Rasters seen in metres: a capture in a geographic CRS (degrees) is warped, virtually (a VRT
in memory), onto the local UTM zone of its centre; a capture without georeferencing gets the
pixel size it is given, or is refused. Map coordinates and sizes are then metres everywhere.

A capture without georeferencing is shown by QGIS in its pixel frame (x = column, y = -row);
the core measures it in a metric frame (x = column * size, y = -row * size). PixelFrame maps
one onto the other, so that inputs and outputs stay in the frame the analyst sees."""
from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass
from typing import Optional

from osgeo import gdal, ogr, osr

from .errors import InputError, MissingCRS
from .gdal_scope import gdal_exceptions
from .input_checks import is_georeferenced
from .raster import open_raster, pixel_to_map

_NO_GEOTRANSFORM = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@gdal_exceptions()
def utm_for(lon: float, lat: float) -> osr.SpatialReference:
    """The WGS 84 UTM zone holding (lon, lat), x/y axis order."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    srs = osr.SpatialReference()
    srs.ImportFromEPSG((32600 if lat >= 0 else 32700) + zone)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


@dataclass(frozen=True)
class PixelFrame:
    """The affine map between the frame QGIS shows a raster in and the core's metric frame: a
    scale about the top-left corner (metres_per_unit = the pixel size for a raster without
    georeferencing; 1, the identity, for a georeferenced one)."""

    metres_per_unit: float = 1.0

    @property
    def identity(self) -> bool:
        return self.metres_per_unit == 1.0

    def _scaled_wkt(self, wkt: Optional[str], factor: float) -> Optional[str]:
        if not wkt or factor == 1.0:
            return wkt
        geom = ogr.CreateGeometryFromWkt(wkt)
        _scale(geom, factor)
        return geom.ExportToWkt()

    def to_metric_wkt(self, wkt: Optional[str]) -> Optional[str]:
        return self._scaled_wkt(wkt, self.metres_per_unit)

    def from_metric_wkt(self, wkt: Optional[str]) -> Optional[str]:
        return self._scaled_wkt(wkt, 1.0 / self.metres_per_unit)

    def to_metric_points(self, points) -> list[tuple[float, float]]:
        s = self.metres_per_unit
        return [(float(x) * s, float(y) * s) for x, y in points]

    def from_metric_point(self, x: float, y: float) -> tuple[float, float]:
        return float(x) / self.metres_per_unit, float(y) / self.metres_per_unit

    def from_metric_geometry(self, geom: ogr.Geometry) -> None:
        """geom (metric frame) moved, in place, to the shown frame."""
        if not self.identity:
            _scale(geom, 1.0 / self.metres_per_unit)

    def from_metric_geotransform(self, gt) -> tuple:
        s = self.metres_per_unit
        return tuple(float(v) / s for v in gt)


def _scale(geom: ogr.Geometry, factor: float) -> None:
    """geom scaled in place about the origin (every vertex of every part)."""
    for i in range(geom.GetGeometryCount()):
        _scale(geom.GetGeometryRef(i), factor)
    for i in range(geom.GetPointCount()):
        x, y = geom.GetX(i), geom.GetY(i)
        if geom.GetCoordinateDimension() == 3:
            geom.SetPoint(i, x * factor, y * factor, geom.GetZ(i))
        else:
            geom.SetPoint_2D(i, x * factor, y * factor)


def pixel_frame(pixel_size_m: Optional[float], *paths: str) -> PixelFrame:
    """The frame of rasters none of which is georeferenced, measured with pixel_size_m; the
    identity when one is georeferenced (the others adopt its grid) or no size is given."""
    if not pixel_size_m or any(is_georeferenced(p) for p in paths):
        return PixelFrame()
    return PixelFrame(float(pixel_size_m))


@dataclass
class MetricView:
    path: str  # the raster to read: the source itself, or a VRT in metres
    crs_wkt: str  # CRS of `path` ("" for a pixel grid without CRS)
    source_crs_wkt: str  # the source's CRS (coordinates given by callers are in it)
    virtual: bool = False
    frame: PixelFrame = PixelFrame()  # the shown frame of a raster without georeferencing

    def close(self) -> None:
        if self.virtual:
            try:
                gdal.Unlink(self.path)
            except RuntimeError:
                pass

    def to_view(self, wkt: Optional[str]) -> Optional[str]:
        """A WKT geometry in the source's CRS (or shown frame), in the view's."""
        if not self.frame.identity:
            return self.frame.to_metric_wkt(wkt)
        if not wkt or not self.virtual or not self.source_crs_wkt or not self.crs_wkt:
            return wkt
        geom = ogr.CreateGeometryFromWkt(wkt)
        geom.Transform(_transform(self.source_crs_wkt, self.crs_wkt))
        return geom.ExportToWkt()

    def points_to_view(self, points):
        """(x, y) pairs in the source's CRS (or shown frame), in the view's."""
        if not self.frame.identity:
            return self.frame.to_metric_points(points)
        if not self.virtual or not self.source_crs_wkt or not self.crs_wkt:
            return [tuple(p) for p in points]
        ct = _transform(self.source_crs_wkt, self.crs_wkt)
        return [tuple(ct.TransformPoint(float(x), float(y))[:2]) for x, y in points]


def _srs(wkt: str) -> osr.SpatialReference:
    srs = osr.SpatialReference()
    srs.SetFromUserInput(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _transform(src_wkt: str, dst_wkt: str) -> osr.CoordinateTransformation:
    return osr.CoordinateTransformation(_srs(src_wkt), _srs(dst_wkt))


@gdal_exceptions()
def metric_view(path: str, pixel_size_m: Optional[float] = None, target_crs_wkt: str = "",
                role: str = "capture") -> MetricView:
    """`path` as a raster in metres (see the module's docstring). target_crs_wkt: the CRS a
    geographic raster is warped to (another view's, so that two captures share it)."""
    ds = open_raster(path)
    name = os.path.basename(str(path))
    gt = tuple(ds.GetGeoTransform(can_return_null=True) or _NO_GEOTRANSFORM)
    srs = ds.GetSpatialRef()
    if gt == _NO_GEOTRANSFORM and not ds.GetGCPCount():
        if not pixel_size_m:
            raise InputError(f"The {role} {name} has no georeferencing, so sizes in metres cannot be measured: "
                             f"georeference it or give its pixel size in metres.")
        vpath = f"/vsimem/sitewatch-{uuid.uuid4().hex[:8]}/{os.path.splitext(name)[0]}.vrt"
        view = gdal.Translate(vpath, ds, format="VRT")
        ps = float(pixel_size_m)
        view.SetGeoTransform((0.0, ps, 0.0, 0.0, 0.0, -ps))
        view = None  # written to /vsimem on close
        return MetricView(vpath, "", "", virtual=True, frame=PixelFrame(ps))
    if srs is None and ds.GetGCPCount():
        srs = ds.GetGCPSpatialRef()
    if srs is None:
        raise MissingCRS(f"The {role} {name} has no coordinate reference system: assign it so that sizes are "
                         f"measured in metres.")
    wkt = srs.ExportToWkt()
    if not srs.IsGeographic() and not ds.GetGCPCount():
        return MetricView(str(path), wkt, wkt)
    if srs.IsGeographic():
        lon, lat = pixel_to_map(gt, ds.RasterXSize / 2.0, ds.RasterYSize / 2.0)
        target = target_crs_wkt or utm_for(lon, lat).ExportToWkt()
    else:  # GCPs in a projected CRS: warp to it
        target = target_crs_wkt or wkt
    vpath = f"/vsimem/sitewatch-{uuid.uuid4().hex[:8]}/{os.path.splitext(name)[0]}.vrt"
    nodata = ds.GetRasterBand(1).GetNoDataValue()
    options = dict(format="VRT", dstSRS=target, resampleAlg="bilinear", multithread=True)
    if nodata is not None:
        options.update(srcNodata=nodata, dstNodata=nodata)
    gdal.Warp(vpath, ds, **options)  # the returned dataset, dropped at once, writes the VRT
    return MetricView(vpath, target, wkt, virtual=True)
