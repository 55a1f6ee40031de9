"""Analysis layers: one group, QML styles (categorized events, labels), score threshold, flicker."""
from __future__ import annotations

import pytest
from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsProject,
    QgsRectangle,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
)

from qgis.PyQt.QtGui import QColor

from analysis_fixtures import write_analysis, write_capture


@pytest.fixture()
def outputs(tmp_path, qgis_new_project):
    from sitewatch.plugin.layers.analysis_layers import AnalysisOutputs

    gpkg, score = write_analysis(tmp_path / "run")
    before = write_capture(tmp_path / "before.tif", 1)
    after = write_capture(tmp_path / "after.tif", 2)
    return AnalysisOutputs("SiteWatch: Base 2024-01-01 -> 2024-02-01", str(gpkg), str(score), str(before), str(after),
                           "2024-01-01", "2024-02-01")


def test_group_holds_every_layer_in_order(qgis_app, outputs):
    from sitewatch.plugin.layers.analysis_layers import add_analysis_layers

    group = add_analysis_layers(outputs, threshold=0.6)
    root = QgsProject.instance().layerTreeRoot()
    assert root.children()[0] is group
    assert group.name() == "SiteWatch: Base 2024-01-01 -> 2024-02-01"
    names = [node.name() for node in group.findLayers()]
    assert names == ["Equipment 2024-02-01", "Equipment 2024-01-01", "Change regions", "Change score",
                     "After 2024-02-01", "Before 2024-01-01"]
    visible = {node.name(): node.itemVisibilityChecked() for node in group.findLayers()}
    assert visible["After 2024-02-01"] and not visible["Before 2024-01-01"]
    # adding the same analysis again replaces the group instead of duplicating it
    add_analysis_layers(outputs, threshold=0.6)
    groups = [child for child in QgsProject.instance().layerTreeRoot().children() if child.name() == outputs.title]
    assert len(groups) == 1
    assert len(QgsProject.instance().mapLayers()) == 6


def test_detection_style_is_categorized_by_event_with_labels(qgis_app, outputs):
    from sitewatch.plugin.layers.analysis_layers import ROLE_DETECTIONS_AFTER, add_analysis_layers, group_layers

    layers = group_layers(add_analysis_layers(outputs))
    layer = layers[ROLE_DETECTIONS_AFTER]
    renderer = layer.renderer()
    assert isinstance(renderer, QgsCategorizedSymbolRenderer)
    assert renderer.classAttribute() == "event"
    values = [c.value() for c in renderer.categories()]
    for event in ("arrived", "departed", "stayed", "moved"):
        assert event in values
    colours = {c.value(): c.symbol().symbolLayer(0).strokeColor().name() for c in renderer.categories() if c.value()}
    assert len(set(colours.values())) == 4  # four distinct colours
    assert layer.labelsEnabled()
    settings = layer.labeling().settings()
    assert settings.isExpression and '"class"' in settings.fieldName and '"score"' in settings.fieldName
    # every feature falls into a category (a legend entry)
    idx = layer.fields().indexOf("event")
    assert {f[idx] for f in layer.getFeatures()} <= set(values)


def test_regions_outlined_and_labelled_with_area(qgis_app, outputs):
    from sitewatch.plugin.layers.analysis_layers import ROLE_REGIONS, add_analysis_layers, group_layers

    layer = group_layers(add_analysis_layers(outputs))[ROLE_REGIONS]
    assert isinstance(layer.renderer(), QgsSingleSymbolRenderer)
    fill = layer.renderer().symbol().symbolLayer(0)
    assert fill.brushStyle() == 0  # Qt.BrushStyle.NoBrush: outline only
    assert layer.labelsEnabled() and "area_m2" in layer.labeling().settings().fieldName
    assert layer.featureCount() == 2


def test_change_score_transparent_below_threshold(qgis_app, outputs):
    from sitewatch.plugin.layers.analysis_layers import ROLE_SCORE, add_analysis_layers, group_layers

    layer = group_layers(add_analysis_layers(outputs, threshold=0.6))[ROLE_SCORE]
    renderer = layer.renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
    assert renderer.classificationMin() == pytest.approx(0.6)
    # render one row across the score gradient (0 at the left edge, 1 at the right)
    ext = layer.extent()
    row = QgsRectangle(ext.xMinimum(), ext.yMaximum() - 1.0, ext.xMaximum(), ext.yMaximum())
    block = renderer.block(1, row, 200, 1)
    low = QColor.fromRgba(block.color(0, 20))  # score 0.1
    high = QColor.fromRgba(block.color(0, 195))  # score 0.98
    assert low.alpha() == 0
    assert high.alpha() > 150 and high.red() > 150 and high.green() < 60


def test_flicker_switches_captures_and_detections(qgis_app, outputs):
    from sitewatch.plugin.layers.analysis_layers import add_analysis_layers, set_capture_visible

    group = add_analysis_layers(outputs)
    set_capture_visible(group, "before")
    vis = {node.name(): node.itemVisibilityChecked() for node in group.findLayers()}
    assert vis["Before 2024-01-01"] and not vis["After 2024-02-01"]
    assert vis["Equipment 2024-01-01"] and not vis["Equipment 2024-02-01"]
    set_capture_visible(group, "after")
    vis = {node.name(): node.itemVisibilityChecked() for node in group.findLayers()}
    assert vis["After 2024-02-01"] and not vis["Before 2024-01-01"]


def test_outputs_are_not_offered_as_captures(qgis_app, outputs):
    from sitewatch.plugin.layers.analysis_layers import add_analysis_layers
    from sitewatch.plugin.qgisio.captures import site_captures

    add_analysis_layers(outputs)
    assert site_captures(None, None) == []
