"""Inputs that cannot be judged, said so before the work: rasters without georeferencing or CRS,
uniform (black, blank, constant) captures or bands, a site almost all nodata."""
from __future__ import annotations

import logging
import os
from typing import Optional

import numpy as np
from osgeo import gdal

from .errors import EmptyRaster, InputError, MissingCRS
from .gdal_scope import gdal_exceptions

LOG = logging.getLogger(__name__)

_NO_GEOTRANSFORM = (0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
MIN_SITE_COVER = 0.5  # below this share of the site with data on both dates, a warning
_PROBE = 128  # side of the probe windows (pixels)
_PROBES = 6  # per axis


# what a change run says when it measures on the pixel grid (no georeferencing, no pixel size)
PIXEL_AREAS_WARNING = ("BEFORE and AFTER carry no georeferencing and no PIXEL_SIZE was given: areas are measured in "
                       "pixels (MIN_AREA read as pixels, CHANGED_AREA_M2 in pixels); give PIXEL_SIZE to measure in "
                       "m².")
PIXEL_SHIFT_WARNING = ("INPUT and REFERENCE carry no georeferencing and no PIXEL_SIZE was given: the shift in map "
                       "units (DX_M, DY_M) is in pixels; give PIXEL_SIZE to measure it in metres.")


def _open(path: str):
    try:
        return gdal.OpenEx(str(path), gdal.OF_RASTER) if path else None
    except RuntimeError:
        return None


def _has_georeferencing(ds) -> bool:
    gt = tuple(ds.GetGeoTransform(can_return_null=True) or _NO_GEOTRANSFORM)
    return gt != _NO_GEOTRANSFORM or bool(ds.GetGCPCount())


@gdal_exceptions()
def is_georeferenced(path: str) -> Optional[bool]:
    """Whether the raster has a geotransform or GCPs; None when it cannot be opened."""
    ds = _open(path)
    return None if ds is None else _has_georeferencing(ds)


@gdal_exceptions()
def check_georeferenced(path: str, role: str = "raster", pixel_size_m: Optional[float] = None,
                        pixel_size_name: str = "") -> None:
    """InputError when the raster has no georeferencing (sizes in metres unknowable) and no
    explicit pixel size is given (pixel_size_name: the parameter that gives one, named in the
    message); MissingCRS when it has a geotransform but no CRS."""
    ds = _open(path)
    if ds is None:
        return  # unreadable: the opener says so with its own message
    name = os.path.basename(str(path))
    if not _has_georeferencing(ds):
        if pixel_size_m:
            return
        remedy = f" or give its pixel size in metres ({pixel_size_name})" if pixel_size_name else ""
        raise InputError(f"The {role} {name} has no georeferencing, so sizes and areas in metres cannot be "
                         f"measured: georeference it (Raster > Georeferencer, or a world file){remedy}.")
    if not ds.GetSpatialRef() and not ds.GetGCPSpatialRef():
        raise MissingCRS(f"The {role} {name} has no coordinate reference system: assign it (Layer Properties "
                         f"> Source, or gdal_edit.py -a_srs EPSG:...) so that sizes are measured in metres.")


def _constant_bands(values: np.ndarray) -> list[int]:
    """Indices of the bands (rows of values, pixels in columns) that hold one value."""
    if values.shape[1] == 0:
        return []
    return [i for i in range(values.shape[0]) if np.nanmax(values[i]) - np.nanmin(values[i]) <= 1e-6]


@gdal_exceptions()
def judge_pair(pair) -> list[str]:
    """Warnings about two captures on their common grid (an AlignedPair), from windows spread
    over the grid; EmptyRaster when a capture is uniform over the site (every band one value:
    a black or blank image), which no comparison can judge."""
    g = pair.grid
    w, h = min(_PROBE, g.width), min(_PROBE, g.height)
    values_b, values_a, inside, both = [], [], 0, 0
    for y in np.linspace(0, g.height - h, min(_PROBES, max(1, g.height // h))).astype(int):
        for x in np.linspace(0, g.width - w, min(_PROBES, max(1, g.width // w))).astype(int):
            db, vb = pair.before.read(int(x), int(y), w, h)
            da, va = pair.after.read(int(x), int(y), w, h)
            aoi = pair.aoi(int(x), int(y), w, h)
            site = np.ones((h, w), bool) if aoi is None else aoi
            inside += int(site.sum())
            both += int((vb & va & site).sum())
            values_b.append(db[:, vb & site])
            values_a.append(da[:, va & site])
    warnings = []
    keys = list(getattr(pair, "band_keys", []) or [])
    for name, values in ((pair.before_name, values_b), (pair.after_name, values_a)):
        stacked = np.concatenate(values, axis=1)
        flat = _constant_bands(stacked)
        if stacked.shape[1] and len(flat) == stacked.shape[0]:
            value = float(stacked[0, 0])
            raise EmptyRaster(f"{name} is uniform over the site (every band holds {value:g}: a black or blank "
                              f"image?); it cannot be compared. Check the capture, or give its nodata value.")
        if flat:
            labels = ", ".join(str(keys[i] or f"band {i + 1}") if i < len(keys) else f"band {i + 1}" for i in flat)
            warnings.append(f"{name}: {labels} hold one value over the site; change there is judged on the "
                            f"other bands only.")
    if inside and both / inside < MIN_SITE_COVER:
        warnings.append(f"Only {100.0 * both / inside:.0f} % of the site has data on both dates (nodata, clouds or "
                        f"the captures' edges); changes are reported for that part only.")
    for text in warnings:
        LOG.warning(text)
    return warnings


@gdal_exceptions()
def judge_capture(path: str, role: str = "capture", name: str = "") -> Optional[str]:
    """A warning (also logged) when a single capture holds one value everywhere or only nodata
    (judged from windows spread over it); None otherwise."""
    try:
        ds = gdal.Open(str(path))
    except RuntimeError:
        ds = None
    if ds is None:
        return None
    width, height = ds.RasterXSize, ds.RasterYSize
    w, h = min(_PROBE, width), min(_PROBE, height)
    seen: list[np.ndarray] = []
    for y in np.linspace(0, height - h, min(_PROBES, max(1, height // h))).astype(int):
        for x in np.linspace(0, width - w, min(_PROBES, max(1, width // w))).astype(int):
            for b in range(1, ds.RasterCount + 1):
                band = ds.GetRasterBand(b)
                if band.GetColorInterpretation() == gdal.GCI_AlphaBand:
                    continue
                data = band.ReadAsArray(int(x), int(y), w, h).astype(np.float64)
                ok = band.GetMaskBand().ReadAsArray(int(x), int(y), w, h) > 0
                ok &= np.isfinite(data)
                seen.append(data[ok])
                if seen[-1].size and np.ptp(seen[-1]) > 1e-6:
                    return None
    values = np.concatenate(seen) if seen else np.zeros(0)
    name = name or os.path.basename(str(path))
    if values.size == 0:
        warning = f"The {role} {name} holds only nodata: nothing can be found on it."
    elif np.ptp(values) <= 1e-6:
        warning = (f"The {role} {name} holds one value everywhere ({values[0]:g}: a black or blank image?): "
                   f"nothing can be found on it.")
    else:
        return None
    LOG.warning(warning)
    return warning
