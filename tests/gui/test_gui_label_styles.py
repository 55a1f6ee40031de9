"""Result maps on a busy scene: no overlapping labels, the largest regions (most confident
detections) labelled first, small ones unlabelled until zoomed in."""
from __future__ import annotations

import pytest
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsExpressionContext,
    QgsExpressionContextUtils,
    QgsFeature,
    QgsGeometry,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsPalLayerSettings,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize

X0, Y0 = 500000.0, 3800000.0


def _square(x: float, y: float, side: float) -> QgsGeometry:
    return QgsGeometry.fromRect(QgsRectangle(X0 + x, Y0 + y, X0 + x + side, Y0 + y + side))


def _busy_regions() -> QgsVectorLayer:
    """One 80 m region, a row of 20 m regions side by side, and a carpet of 3 m specks."""
    layer = QgsVectorLayer("Polygon?crs=EPSG:32636&field=area_m2:double", "regions", "memory")
    geometries = [_square(20, 20, 80)]
    geometries += [_square(150 + 22 * i, 50, 20) for i in range(8)]
    geometries += [_square(20 + 6 * i, 200 + 6 * j, 3) for i in range(30) for j in range(10)]
    features = []
    for geometry in geometries:
        feature = QgsFeature(layer.fields())
        feature.setGeometry(geometry)
        feature["area_m2"] = geometry.area()
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    return layer


def _labels(layer: QgsVectorLayer, extent: QgsRectangle, pixels: int = 400):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:32636"))
    settings.setOutputSize(QSize(pixels, pixels))
    settings.setOutputDpi(96)
    settings.setExtent(extent)
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    results = job.takeLabelingResults()
    return results.labelsWithinRect(settings.visibleExtent())


def _area_of(layer, feature_id) -> float:
    return layer.getFeature(feature_id)["area_m2"]


def test_busy_scene_labels_large_regions_without_overlap(qgis_app):
    from sitewatch.plugin.resources import style_path

    layer = _busy_regions()
    message, ok = layer.loadNamedStyle(style_path("change_regions.qml"))
    assert ok, message
    labels = _labels(layer, QgsRectangle(X0, Y0, X0 + 400, Y0 + 400))  # 1 m per pixel
    labelled = {label.featureId for label in labels}
    areas = sorted(_area_of(layer, f) for f in labelled)
    assert areas and areas[-1] == pytest.approx(6400.0)  # the largest region is labelled
    assert min(areas) >= 400.0  # no 9 m² speck is labelled at this scale
    rects = [label.labelRect for label in labels]
    for i, a in enumerate(rects):
        for b in rects[i + 1:]:
            assert not a.intersects(b) or a.intersect(b).area() < 1e-6, "two labels overlap"

    # zoomed in on the specks (0.1 m per pixel) they get their labels
    zoomed = _labels(layer, QgsRectangle(X0 + 20, Y0 + 200, X0 + 60, Y0 + 240))
    assert any(_area_of(layer, label.featureId) == pytest.approx(9.0) for label in zoomed)


@pytest.mark.parametrize("style, field, small, large", [
    ("change_regions.qml", "area_m2", 30.0, 3000.0),
    ("detections.qml", "score", 0.35, 0.9),
])
def test_larger_and_surer_objects_win_label_conflicts(qgis_app, style, field, small, large):
    from sitewatch.plugin.resources import style_path

    layer = QgsVectorLayer(f"Polygon?crs=EPSG:32636&field={field}:double&field=class:string", "l", "memory")
    assert layer.loadNamedStyle(style_path(style))[1]
    settings = layer.labeling().settings()
    assert not settings.displayAll and settings.minFeatureSize > 0  # no overlaps; specks wait for a zoom
    priority = settings.dataDefinedProperties().property(QgsPalLayerSettings.Property.Priority)
    assert priority.isActive()
    values = []
    for value in (small, large):
        feature = QgsFeature(layer.fields())
        feature[field] = value
        context = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
        context.setFeature(feature)
        values.append(priority.value(context)[0])
    assert 0 <= values[0] < values[1] <= 10
