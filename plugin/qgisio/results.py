"""Reading a finished analysis back: counts per class and where its objects are."""
from __future__ import annotations

from typing import Optional

from qgis.core import QgsFeatureRequest, QgsRectangle, QgsVectorLayer

from ..core.equipment.matching import ClassCount

COUNT_FIELDS = ("before", "after", "arrived", "departed", "stayed", "moved")  # delta is derived


def read_counts(gpkg_path: str, table: str = "counts") -> list[ClassCount]:
    """The `counts` table of an analysis GeoPackage (empty when the run had no equipment step)."""
    layer = QgsVectorLayer(f"{gpkg_path}|layername={table}", table, "ogr")
    if not layer.isValid():
        return []
    names = layer.fields().names()
    rows = []
    for f in layer.getFeatures():
        row = ClassCount(str(f["class"]) if "class" in names else "?")
        for name in COUNT_FIELDS:
            if name in names and f[name] is not None:
                try:
                    setattr(row, name, int(f[name]))
                except (TypeError, ValueError):
                    pass
        rows.append(row)
    rows.sort(key=lambda r: (-(r.before + r.after), r.class_name))
    return rows


def _quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def features_extent(layer: QgsVectorLayer, class_name: Optional[str] = None, event: Optional[str] = None) -> QgsRectangle:
    """Bounding box (layer CRS) of the layer's features of a class and/or event; empty if none."""
    clauses = []
    names = layer.fields().names()
    if class_name is not None and "class" in names:
        clauses.append(f'"class" = {_quote(class_name)}')
    if event is not None and "event" in names:
        clauses.append(f'"event" = {_quote(event)}')
    request = QgsFeatureRequest()
    if clauses:
        request.setFilterExpression(" AND ".join(clauses))
    extent = QgsRectangle()
    extent.setMinimal()
    for f in layer.getFeatures(request):
        if f.hasGeometry():
            extent.combineExtentWith(f.geometry().boundingBox())
    return extent


def feature_ids(layer: QgsVectorLayer, class_name: Optional[str] = None, event: Optional[str] = None) -> list[int]:
    clauses = []
    if class_name is not None:
        clauses.append(f'"class" = {_quote(class_name)}')
    if event is not None:
        clauses.append(f'"event" = {_quote(event)}')
    request = QgsFeatureRequest()
    if clauses:
        request.setFilterExpression(" AND ".join(clauses))
    request.setFlags(QgsFeatureRequest.Flag.NoGeometry)
    return [f.id() for f in layer.getFeatures(request)]
