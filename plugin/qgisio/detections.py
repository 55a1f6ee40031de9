"""QGIS <-> core conversion of detections: vector features to Detections and back."""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsFeatureSource,
    QgsField,
    QgsFields,
    QgsGeometry,
    QgsProject,
    QgsWkbTypes,
)
from qgis.PyQt.QtCore import QVariant

from ..core.equipment.detection import Detection
from ..core.equipment.io import detection_from_polygon
from ..core.errors import InputError
from .field_types import DOUBLE, STRING
from .vectors import crs_transform

DETECTION_FIELD_TYPES = (("class", STRING), ("score", DOUBLE), ("engine", STRING), ("length_m", DOUBLE),
                         ("width_m", DOUBLE), ("heading_deg", DOUBLE), ("capture", STRING))


def _points(geom: QgsGeometry) -> np.ndarray:
    pts = [(v.x(), v.y()) for v in geom.vertices()]
    return np.array(pts, dtype=float).reshape(-1, 2)


def features_to_detections(source: QgsFeatureSource, target_crs: Optional[QgsCoordinateReferenceSystem] = None,
                           class_field: str = "class", project: Optional[QgsProject] = None) -> list[Detection]:
    """Polygon features (a layer or a Processing feature source) -> Detections in target_crs.

    Features with length_m/width_m/heading_deg fields keep them (layers SiteWatch wrote); other
    polygons become the minimum-area rectangle around them. Without `class_field` the class is
    'object'.
    """
    crs = source.sourceCrs()
    xform = crs_transform(crs, target_crs, project)
    out_crs = target_crs if xform is not None else crs
    crs_wkt = out_crs.toWkt() if out_crs is not None and out_crs.isValid() else ""
    names = source.fields().names()
    if QgsWkbTypes.geometryType(source.wkbType()) != QgsWkbTypes.GeometryType.PolygonGeometry:
        raise InputError(f"'{source.sourceName()}' must be a polygon layer (boxes drawn around objects).")
    out: list[Detection] = []
    for feat in source.getFeatures():
        geom = QgsGeometry(feat.geometry())
        if geom.isNull() or geom.isEmpty():
            continue
        if xform is not None:
            geom.transform(xform)
        values = {n: _plain(feat[n]) for n in names}
        out.append(detection_from_polygon(_points(geom), values, class_field, crs_wkt, feat.id()))
    return out


def _plain(value):
    """QVariant NULLs -> None; other values unchanged."""
    if isinstance(value, QVariant) and value.isNull():
        return None
    return None if value is None or str(value) == "NULL" else value


def detection_fields(extra: Iterable[tuple[str, object]] = ()) -> QgsFields:
    """The detection fields, then `extra` (name, field_types type) pairs."""
    fields = QgsFields()
    for name, vtype in (*DETECTION_FIELD_TYPES, *extra):
        fields.append(QgsField(name, vtype))
    return fields


def detection_to_feature(det: Detection, fields: QgsFields, extra: Optional[dict] = None) -> QgsFeature:
    feat = QgsFeature(fields)
    feat.setGeometry(QgsGeometry.fromWkt(det.wkt()))
    values = {"class": det.class_name, "score": float(det.score), "engine": det.engine,
              "length_m": round(float(det.length_m), 3), "width_m": round(float(det.width_m), 3),
              "heading_deg": round(float(det.heading_deg), 2), "capture": det.capture or ""}
    values.update(extra or {})
    for name, value in values.items():
        idx = fields.indexOf(name)
        if idx >= 0:
            feat.setAttribute(idx, value)
    return feat
