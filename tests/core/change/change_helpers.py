"""Helpers making small synthetic captures (imported by the change tests)."""
from __future__ import annotations

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()


def textured(size: int, seed: int = 0, bands: int = 3) -> np.ndarray:
    """Smooth random texture (fields, roads, trees at a few scales), values ~ 0..255."""
    from sitewatch.plugin.core.change.filters import box_mean

    rng = np.random.default_rng(seed)
    base = box_mean(rng.normal(size=(1, size, size)).astype(np.float32), 2)[0] * 25
    base += box_mean(rng.normal(size=(1, size, size)).astype(np.float32), 8)[0] * 60
    out = np.stack([base * (1 + 0.2 * b) + 100 + 10 * b for b in range(bands)])
    return out.astype(np.float32)


def assert_same_scores(a: np.ndarray, b: np.ndarray) -> None:
    """Two stored change scores agree: at most one storage step (1/1024) apart, and only on
    the few pixels whose score sits on a rounding boundary (float rounding differs)."""
    from sitewatch.plugin.core.change.scoring import SCORE_STEPS

    diff = np.abs(a.astype(np.float64) - b)
    assert diff.max() <= 1.0 / SCORE_STEPS + 1e-7
    assert (diff > 0).mean() < 0.01


def shifted(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """The image as seen by a sensor displaced so that features move by (+dx, +dy) px."""
    from sitewatch.plugin.core.change.filters import bilinear_sample

    h, w = image.shape[-2:]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return bilinear_sample(image, xs - dx, ys - dy)


def write_raster(path, array, geotransform=(500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5), epsg=32633,
                 nodata=None, data_type=gdal.GDT_UInt16) -> str:
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[None]
    driver = "PNG" if str(path).endswith(".png") else "GTiff"
    if driver == "PNG":
        mem = gdal.GetDriverByName("MEM").Create("", array.shape[2], array.shape[1], array.shape[0], gdal.GDT_Byte)
        for i, band in enumerate(array):
            mem.GetRasterBand(i + 1).WriteArray(np.clip(band, 0, 255).astype(np.uint8))
        gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)
        return str(path)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), array.shape[2], array.shape[1], array.shape[0], data_type)
    if geotransform is not None:
        ds.SetGeoTransform(geotransform)
    if epsg is not None:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(epsg)
        ds.SetProjection(srs.ExportToWkt())
    for i, band in enumerate(array):
        b = ds.GetRasterBand(i + 1)
        if nodata is not None:
            b.SetNoDataValue(nodata)
        b.WriteArray(np.round(band) if data_type != gdal.GDT_Float32 else band)
    ds = None
    return str(path)


