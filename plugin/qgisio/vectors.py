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


def crs_transform(source_crs: QgsCoordinateReferenceSystem, target_crs: Optional[QgsCoordinateReferenceSystem],
                  project: Optional[QgsProject] = None) -> Optional[QgsCoordinateTransform]:
    """The transform between two CRSs, None when there is nothing to transform."""
    if target_crs is None or not target_crs.isValid() or not source_crs.isValid() or source_crs == target_crs:
        return None
    return QgsCoordinateTransform(source_crs, target_crs, project or QgsProject.instance())


def aoi_wkt_in_crs(source: QgsFeatureSource, target_crs: QgsCoordinateReferenceSystem,
                   project: Optional[QgsProject] = None) -> Optional[str]:
    """The union of a polygon source's features as WKT in target_crs (None when no features)."""
    geoms = [QgsGeometry(f.geometry()) for f in source.getFeatures() if not f.geometry().isNull()]
    if not geoms:
        return None
    union = QgsGeometry.unaryUnion(geoms)
    xform = crs_transform(source.sourceCrs(), target_crs, project)
    if xform is not None:
        union.transform(xform)
    return union.asWkt()


def polygons_over_site_wkt(layer: Optional[QgsVectorLayer], site: QgsGeometry,
                           site_crs: QgsCoordinateReferenceSystem) -> Optional[str]:
    """The part of a polygon layer's features that lies over the site, in the site's CRS (WKT);
    None when the layer has none there."""
    if layer is None or site is None or site.isEmpty():
        return None
    wkt = aoi_wkt_in_crs(layer, site_crs)
    if not wkt:
        return None
    union = QgsGeometry.fromWkt(wkt)
    if not union.isGeosValid():
        union = union.makeValid()
    over = union.intersection(site).convertToType(QgsWkbTypes.GeometryType.PolygonGeometry, True)
    if over is None or over.isNull() or over.isEmpty() or over.area() <= 0:
        return None
    return over.asWkt()
