"""Vector inputs for the core: an AOI feature source -> one WKT polygon and its CRS WKT; the
polygons a layer holds over a site, in the site's CRS."""
from __future__ import annotations

from typing import Optional

from qgis.core import (
    QgsCoordinateReferenceSystem, QgsCoordinateTransform, QgsFeatureRequest, QgsFeatureSource, QgsGeometry, QgsProject,
    QgsVectorLayer, QgsWkbTypes,
)


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


def polygons_over_site_wkt(layer: Optional[QgsVectorLayer], site: QgsGeometry,
                           site_crs: QgsCoordinateReferenceSystem) -> Optional[str]:
    """The part of a polygon layer's features that lies over the site, in the site's CRS (WKT);
    None when the layer has none there."""
    if layer is None or site is None or site.isEmpty():
        return None
    transform = QgsCoordinateTransform(layer.crs(), site_crs, QgsProject.instance())
    parts = []
    for feature in layer.getFeatures(QgsFeatureRequest().setNoAttributes()):
        if not feature.hasGeometry() or feature.geometry().type() != QgsWkbTypes.GeometryType.PolygonGeometry:
            continue
        geometry = QgsGeometry(feature.geometry())
        geometry.transform(transform)
        if not geometry.isGeosValid():
            geometry = geometry.makeValid()
        if geometry.intersects(site):
            parts.append(geometry.intersection(site))
    if not parts:
        return None
    union = QgsGeometry.unaryUnion(parts).convertToType(QgsWkbTypes.GeometryType.PolygonGeometry, True)
    if union is None or union.isNull() or union.isEmpty() or union.area() <= 0:
        return None
    return union.asWkt()
