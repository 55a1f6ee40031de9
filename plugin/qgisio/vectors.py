"""Vector inputs for the core: an AOI feature source -> one WKT polygon and its CRS WKT."""
from __future__ import annotations

from typing import Optional

from qgis.core import QgsFeatureRequest, QgsFeatureSource, QgsGeometry, QgsWkbTypes


def aoi_wkt_from_source(source: Optional[QgsFeatureSource], selected_only: bool = False,
                        layer=None) -> tuple[Optional[str], Optional[str]]:
    """Union of the polygons of a source as (WKT, CRS WKT); (None, None) without polygons."""
    if source is None:
        return None, None
    request = QgsFeatureRequest().setNoAttributes()
    features = layer.getSelectedFeatures(request) if selected_only and layer is not None else source.getFeatures(request)
    geometries = [f.geometry() for f in features
                  if f.hasGeometry() and f.geometry().type() == QgsWkbTypes.GeometryType.PolygonGeometry]
    if not geometries:
        return None, None
    union = QgsGeometry.unaryUnion(geometries)
    if union.isNull() or union.isEmpty():
        return None, None
    return union.asWkt(), source.sourceCrs().toWkt()
