"""Reading and writing detections as OGR polygon layers (GeoPackage or any OGR format)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from osgeo import ogr

from .. import scratch
from ..errors import InputError
from ..gdal_scope import gdal_exceptions
from ..polygons import min_area_rectangle
from ..raster import srs_from_wkt
from .detection import Detection


DETECTION_FIELDS = ("class", "score", "engine", "length_m", "width_m", "heading_deg", "capture")
_DRIVERS = {".gpkg": "GPKG", ".shp": "ESRI Shapefile", ".geojson": "GeoJSON", ".json": "GeoJSON",
            ".fgb": "FlatGeobuf", ".sqlite": "SQLite", ".gml": "GML", ".kml": "KML", ".csv": "CSV"}


def _driver_for(path: str) -> str:
    ext = Path(path).suffix.lower()
    if ext not in _DRIVERS:
        raise InputError(f"Cannot write detections to '{Path(path).name}': use one of "
                         f"{', '.join(sorted(_DRIVERS))} (GeoPackage .gpkg recommended).")
    return _DRIVERS[ext]


def _field_type(values: Sequence) -> int:
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, (bool, int, np.integer)) for v in vals):
        return ogr.OFTInteger64
    if vals and all(isinstance(v, (int, float, np.integer, np.floating)) for v in vals):
        return ogr.OFTReal
    return ogr.OFTString


def _fill_layer(lyr: ogr.Layer, detections: Sequence[Detection], extra: dict) -> None:
    fields = [("class", ogr.OFTString), ("score", ogr.OFTReal), ("engine", ogr.OFTString),
              ("length_m", ogr.OFTReal), ("width_m", ogr.OFTReal), ("heading_deg", ogr.OFTReal),
              ("capture", ogr.OFTString)]
    fields += [(name, _field_type(values)) for name, values in extra.items() if name not in DETECTION_FIELDS]
    for name, ftype in fields:
        lyr.CreateField(ogr.FieldDefn(name, ftype))
    defn = lyr.GetLayerDefn()  # set by index: formats like shapefiles shorten names
    names = [name for name, _ in fields]
    lyr.StartTransaction()
    for i, d in enumerate(detections):
        feat = ogr.Feature(defn)
        values = [d.class_name, float(d.score), d.engine, float(d.length_m), float(d.width_m),
                  float(d.heading_deg), d.capture or ""] + [extra[n][i] for n in names[len(DETECTION_FIELDS):]]
        for k, v in enumerate(values):
            if v is None:
                feat.SetFieldNull(k)
            else:
                feat.SetField(k, v.item() if isinstance(v, np.generic) else v)
        feat.SetGeometry(ogr.CreateGeometryFromWkt(d.wkt()))
        lyr.CreateFeature(feat)
    lyr.CommitTransaction()


@gdal_exceptions()
def write_detections(path: str, layer: str, detections: Sequence[Detection], crs_wkt: str,
                     extra_fields: Optional[dict[str, list]] = None) -> None:
    """Write detections as polygons with fields class, score, engine, length_m, width_m,
    heading_deg, capture (+ extra_fields: name -> one value per detection).

    Atomic: the file is written under a temporary name and renamed; other layers of an
    existing GeoPackage are kept, a layer of the same name is replaced.
    """
    extra = dict(extra_fields or {})
    for name, values in extra.items():
        if len(values) != len(detections):
            raise InputError(f"Field '{name}' has {len(values)} values for {len(detections)} detections.")
    driver_name = _driver_for(path)
    driver = ogr.GetDriverByName(driver_name)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix="layer-", dir=scratch.run_folder(str(target.parent))))
    try:
        tmp = tmp_dir / target.name
        multi_layer = driver_name in ("GPKG", "SQLite")
        if multi_layer and target.exists():
            shutil.copy2(target, tmp)
            ds = ogr.Open(str(tmp), 1)
            for k in range(ds.GetLayerCount()):
                if ds.GetLayer(k).GetName() == layer:
                    ds.DeleteLayer(k)
                    break
        else:
            ds = driver.CreateDataSource(str(tmp))
        lyr = ds.CreateLayer(layer if driver_name != "ESRI Shapefile" else target.stem,
                             srs_from_wkt(crs_wkt), ogr.wkbPolygon)
        _fill_layer(lyr, detections, extra)
        lyr = None
        ds = None  # flush and close
        for produced in tmp_dir.iterdir():  # shapefiles have side files
            os.replace(produced, target.parent / produced.name)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        scratch.release(str(tmp_dir))


def _geometry_points(geom: ogr.Geometry) -> np.ndarray:
    pts = []
    geom = geom.Clone()
    geom.FlattenTo2D()
    for k in range(max(geom.GetGeometryCount(), 1)):
        part = geom.GetGeometryRef(k) if geom.GetGeometryCount() else geom
        if part.GetGeometryCount():  # polygon -> rings
            ring = part.GetGeometryRef(0)
            pts.extend(ring.GetPoints() or [])
        else:
            pts.extend(part.GetPoints() or [])
    return np.array([p[:2] for p in pts], dtype=float)


@gdal_exceptions()
def read_detections(path: str, layer: Optional[str] = None, class_field: str = "class") -> list[Detection]:
    """Detections from a polygon layer: ours (fields kept) or any polygons (e.g. user exemplars,
    boxed by their minimum-area rectangle). Coordinates stay in the layer's CRS."""
    from osgeo import gdal

    try:
        ds = gdal.OpenEx(str(path), gdal.OF_VECTOR, open_options=["DATE_AS_STRING=YES"]) \
            if Path(str(path)).suffix.lower() in (".geojson", ".json") else ogr.Open(str(path))
    except RuntimeError as exc:
        raise InputError(f"Cannot open the vector file {path}: {exc}") from exc
    if ds is None:
        raise InputError(f"Cannot open the vector file {path}.")
    try:
        lyr = ds.GetLayerByName(layer) if layer else ds.GetLayer(0)
    except RuntimeError:
        lyr = None
    if lyr is None:
        names = [ds.GetLayer(k).GetName() for k in range(ds.GetLayerCount())]
        raise InputError(f"The file {Path(path).name} has no layer '{layer}'. Layers: {', '.join(names)}")
    srs = lyr.GetSpatialRef()
    crs_wkt = srs.ExportToWkt() if srs is not None else ""
    defn = lyr.GetLayerDefn()
    names = [defn.GetFieldDefn(k).GetName() for k in range(defn.GetFieldCount())]
    # shortened names (shapefile: heading_de) read back as ours
    keys = [next((f for f in DETECTION_FIELDS if len(n) >= 7 and f.startswith(n)), n) for n in names]
    out: list[Detection] = []
    for feat in lyr:
        geom = feat.GetGeometryRef()
        if geom is None or geom.IsEmpty():
            continue
        values = {key: feat.GetField(k) for k, key in enumerate(keys)}
        out.append(detection_from_polygon(_geometry_points(geom), values, class_field, crs_wkt, feat.GetFID()))
    return out


@gdal_exceptions()
def detection_from_polygon(points: np.ndarray, values: dict, class_field: str = "class", crs_wkt: str = "",
                           fid: Optional[int] = None) -> Detection:
    """A Detection from polygon vertices and attribute values (as read from a layer).

    When length_m, width_m and heading_deg are present (layers SiteWatch wrote) they are kept,
    with the polygon's box centre; otherwise the minimum-area rectangle gives the box.
    """
    rect = min_area_rectangle(points)
    base = Detection.from_corners(
        rect, class_name=str(values.get(class_field) or "object"),
        score=float(values["score"]) if values.get("score") is not None else 1.0,
        engine=str(values.get("engine") or "user"), capture=str(values.get("capture") or ""),
        crs_wkt=crs_wkt, id=fid,
        attributes={k: v for k, v in values.items() if k not in DETECTION_FIELDS and k != class_field})
    if all(values.get(k) is not None for k in ("length_m", "width_m", "heading_deg")):
        base.length_m, base.width_m = float(values["length_m"]), float(values["width_m"])
        base.heading_deg = float(values["heading_deg"])
    return base
