"""Small rasters and analysis GeoPackages in the documented result schema, for layer/dock tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from osgeo import gdal, ogr, osr

EPSG = 32636
ORIGIN = (500000.0, 3800000.0)
GSD = 0.5
SIZE = 200  # pixels: a 100 m x 100 m site


def srs() -> osr.SpatialReference:
    s = osr.SpatialReference()
    s.ImportFromEPSG(EPSG)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


def write_capture(path: Path, seed: int, date_tag: str | None = None, boxes=(), origin=ORIGIN, size: int = SIZE) -> Path:
    """A 3-band 8-bit capture: a ground texture shared by every date (so dates co-register),
    per-date sensor noise (`seed`), and bright boxes (pixel rectangles x0, y0, x1, y1)."""
    ground = np.random.default_rng(0).normal(0, 1, (size // 4 + 1, size // 4 + 1))
    ground = np.kron(ground, np.ones((4, 4)))[:size, :size]
    texture = 90 + 25 * ground
    noise = np.random.default_rng(seed).normal(0, 2, (3, size, size))
    data = (texture[None] + noise).clip(0, 255)
    for x0, y0, x1, y1 in boxes:
        data[:, y0:y1, x0:x1] = 235
    data = data.astype(np.uint8)
    ds = gdal.GetDriverByName("GTiff").Create(str(path), size, size, 3, gdal.GDT_Byte)
    ds.SetGeoTransform((origin[0], GSD, 0.0, origin[1], 0.0, -GSD))
    ds.SetProjection(srs().ExportToWkt())
    if date_tag:
        ds.SetMetadataItem("TIFFTAG_DATETIME", date_tag)
    for b in range(3):
        ds.GetRasterBand(b + 1).WriteArray(data[b])
    ds = None
    return path


def site_wkt(margin_m: float = 5.0) -> str:
    x0, y1 = ORIGIN
    x1, y0 = x0 + SIZE * GSD, y1 - SIZE * GSD
    x0, y0, x1, y1 = x0 + margin_m, y0 + margin_m, x1 - margin_m, y1 - margin_m
    return f"POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"


def _box(cx: float, cy: float, half: float) -> ogr.Geometry:
    return ogr.CreateGeometryFromWkt(
        f"POLYGON(({cx - half} {cy - half},{cx + half} {cy - half},{cx + half} {cy + half},"
        f"{cx - half} {cy + half},{cx - half} {cy - half}))"
    )


def write_analysis(folder: Path) -> tuple[Path, Path]:
    """An analysis GeoPackage (regions, detections per date with events, counts) and a score GeoTIFF."""
    folder.mkdir(parents=True, exist_ok=True)
    gpkg = folder / "analysis.gpkg"
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(gpkg))
    x0, y1 = ORIGIN
    regions = ds.CreateLayer("change_regions", srs=srs(), geom_type=ogr.wkbPolygon)
    for name, ftype in (("area_m2", ogr.OFTReal), ("mean_score", ogr.OFTReal), ("max_score", ogr.OFTReal),
                        ("length_m", ogr.OFTReal), ("width_m", ogr.OFTReal), ("compactness", ogr.OFTReal)):
        regions.CreateField(ogr.FieldDefn(name, ftype))
    for cx, cy, half in ((x0 + 20, y1 - 20, 5.0), (x0 + 70, y1 - 60, 3.0)):
        f = ogr.Feature(regions.GetLayerDefn())
        f.SetGeometry(_box(cx, cy, half))
        f.SetField("area_m2", (2 * half) ** 2)
        f.SetField("mean_score", 0.7)
        f.SetField("max_score", 0.9)
        regions.CreateFeature(f)
    detections = {
        "detections_before": [("aircraft", 0.91, "stayed", x0 + 40, y1 - 40), ("aircraft", 0.8, "departed", x0 + 20, y1 - 20),
                              ("vehicle", 0.6, "moved", x0 + 80, y1 - 80)],
        "detections_after": [("aircraft", 0.88, "stayed", x0 + 40, y1 - 40), ("vehicle", 0.7, "moved", x0 + 85, y1 - 75),
                             ("vehicle", 0.66, "arrived", x0 + 70, y1 - 60)],
    }
    for table, rows in detections.items():
        layer = ds.CreateLayer(table, srs=srs(), geom_type=ogr.wkbPolygon)
        for name, ftype in (("class", ogr.OFTString), ("score", ogr.OFTReal), ("engine", ogr.OFTString),
                            ("length_m", ogr.OFTReal), ("width_m", ogr.OFTReal), ("heading_deg", ogr.OFTReal),
                            ("capture", ogr.OFTString), ("event", ogr.OFTString), ("in_change", ogr.OFTInteger)):
            layer.CreateField(ogr.FieldDefn(name, ftype))
        for cls, score, event, cx, cy in rows:
            f = ogr.Feature(layer.GetLayerDefn())
            f.SetGeometry(_box(cx, cy, 2.0))
            f.SetField("class", cls)
            f.SetField("score", score)
            f.SetField("engine", "exemplar")
            f.SetField("event", event)
            layer.CreateFeature(f)
    counts = ds.CreateLayer("counts", geom_type=ogr.wkbNone)
    counts.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for name in ("before", "after", "delta", "arrived", "departed", "stayed", "moved"):
        counts.CreateField(ogr.FieldDefn(name, ogr.OFTInteger))
    for values in (("aircraft", 2, 1, -1, 0, 1, 1, 0), ("vehicle", 1, 2, 1, 1, 0, 0, 1)):
        f = ogr.Feature(counts.GetLayerDefn())
        for i, name in enumerate(("class", "before", "after", "delta", "arrived", "departed", "stayed", "moved")):
            f.SetField(name, values[i])
        counts.CreateFeature(f)
    ds = None

    score = folder / "change_score.tif"
    ras = gdal.GetDriverByName("GTiff").Create(str(score), SIZE, SIZE, 1, gdal.GDT_Float32)
    ras.SetGeoTransform((ORIGIN[0], GSD, 0.0, ORIGIN[1], 0.0, -GSD))
    ras.SetProjection(srs().ExportToWkt())
    grid = np.tile(np.linspace(0.0, 1.0, SIZE, dtype=np.float32), (SIZE, 1))  # 0 at left, 1 at right
    ras.GetRasterBand(1).WriteArray(grid)
    ras = None
    return gpkg, score


def write_examples(path: Path, boxes, cls: str = "vehicle") -> Path:
    """A polygon layer of example boxes (pixel rectangles of the captures) with a `class` field."""
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(str(path))
    layer = ds.CreateLayer("examples", srs=srs(), geom_type=ogr.wkbPolygon)
    layer.CreateField(ogr.FieldDefn("class", ogr.OFTString))
    for x0, y0, x1, y1 in boxes:
        mx0, my0 = ORIGIN[0] + x0 * GSD, ORIGIN[1] - y0 * GSD
        mx1, my1 = ORIGIN[0] + x1 * GSD, ORIGIN[1] - y1 * GSD
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetGeometry(ogr.CreateGeometryFromWkt(
            f"POLYGON(({mx0} {my1},{mx1} {my1},{mx1} {my0},{mx0} {my0},{mx0} {my1}))"))
        f.SetField("class", cls)
        layer.CreateFeature(f)
    ds = None
    return path


# Bright "vehicles" (pixel boxes, 8 x 4 m): two stay, one leaves, two arrive.
BEFORE_BOXES = [(30, 30, 46, 38), (30, 60, 46, 68), (120, 40, 136, 48)]
AFTER_BOXES = [(30, 30, 46, 38), (30, 60, 46, 68), (100, 140, 116, 148), (140, 150, 156, 158)]


def capture_pair(folder: Path, size: int = SIZE) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    before = write_capture(folder / "base_before.tif", 1, "2024:01:05 08:30:00", BEFORE_BOXES, size=size)
    after = write_capture(folder / "base_after.tif", 2, "2024:03:07 08:31:00", AFTER_BOXES, size=size)
    return before, after
