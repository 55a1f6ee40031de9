"""GeoJSON: the boxes as polygons in the captures' map coordinates (CRS kept), with class, object
id and the chip each lies in (`image`, relative to the file). One file per CRS."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError
from ..gdal_scope import gdal_exceptions
from .boxes import pixel_to_map, wkt_to_corners
from .chips import Box, Chip

FILE_NAME = "annotations.geojson"


@gdal_exceptions()
def write(chips: list[Chip], root: Path) -> Path:
    from osgeo import ogr, osr

    by_crs: dict[str, list[Chip]] = {}
    for chip in chips:
        by_crs.setdefault(chip.crs_wkt, []).append(chip)
    first = None
    for k, (crs, group) in enumerate(sorted(by_crs.items())):
        path = root / (FILE_NAME if k == 0 else f"annotations_{k + 1}.geojson")
        first = first or path
        srs = None
        if crs:
            srs = osr.SpatialReference()
            srs.ImportFromWkt(crs)
            srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        ds = ogr.GetDriverByName("GeoJSON").CreateDataSource(str(path))
        layer = ds.CreateLayer("annotations", srs=srs, geom_type=ogr.wkbPolygon, options=["RFC7946=NO"])
        for name in ("class", "object_id", "image"):
            layer.CreateField(ogr.FieldDefn(name, ogr.OFTString))
        for chip in group:
            for box in chip.boxes:
                pts = pixel_to_map(box.corners, chip.geotransform) if chip.geotransform else box.corners
                ring = ogr.Geometry(ogr.wkbLinearRing)
                for x, y in list(pts) + [pts[0]]:
                    ring.AddPoint_2D(float(x), float(y))
                polygon = ogr.Geometry(ogr.wkbPolygon)
                polygon.AddGeometry(ring)
                f = ogr.Feature(layer.GetLayerDefn())
                f.SetGeometry(polygon)
                f.SetField("class", box.class_name)
                f.SetField("object_id", box.object_id)
                f.SetField("image", chip.path.relative_to(root).as_posix())
                layer.CreateFeature(f)
        ds = None
    return first or root


@gdal_exceptions()
def read(path: Path, images: Optional[Path] = None) -> list[Chip]:
    """Chips in map coordinates: each box's corners are map coordinates (geotransform None, CRS set)."""
    from osgeo import ogr

    path = Path(path)
    files = sorted(path.glob("*.geojson")) if path.is_dir() else [path]
    if not files:
        raise InputError(f"No .geojson file in {path}.")
    chips = []
    for file in files:
        ds = ogr.Open(str(file))
        if ds is None:
            raise InputError(f"Cannot open the GeoJSON file {file}.")
        layer = ds.GetLayer(0)
        srs = layer.GetSpatialRef()
        crs = srs.ExportToWkt() if srs is not None else ""
        per_image: dict[str, Chip] = {}
        for f in layer:
            geom = f.GetGeometryRef()
            if geom is None or geom.IsEmpty():
                continue
            corners = wkt_to_corners(geom.ExportToWkt())
            names = [layer.GetLayerDefn().GetFieldDefn(k).GetName() for k in range(f.GetFieldCount())]
            image = f.GetField("image") if "image" in names else ""
            chip = per_image.setdefault(image or "", Chip(file.parent / image if image else file, 0, 0, None, crs))
            cls = f.GetField("class") if "class" in names else "object"
            chip.boxes.append(Box(str(cls or "object"), np.asarray(corners, float),
                                  f.GetField("object_id") if "object_id" in names else ""))
        chips.extend(per_image.values())
    return chips
