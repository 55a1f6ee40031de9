"""An analysis as styled layers in one group: captures, change score, regions, detections.

Styles are QML files in resources/styles/; the change-score threshold is applied on top of
the loaded style so scores below it stay transparent.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from qgis.core import (
    QgsColorRampShader,
    QgsFillSymbol,
    QgsLayerTreeGroup,
    QgsMapLayer,
    QgsProject,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor

from ..core.pipeline import (  # noqa: F401 (re-exported)
    LAYER_AFTER, LAYER_BEFORE, LAYER_COUNTS, LAYER_LEFT_OUT, LAYER_REGIONS,
)
from ..resources import style_path

OUTPUT_PROPERTY = "sitewatch/output"
ROLE_PROPERTY = "sitewatch/role"
GROUP_PROPERTY = "sitewatch/analysis_gpkg"


ROLE_BEFORE_CAPTURE = "before_capture"
ROLE_AFTER_CAPTURE = "after_capture"
ROLE_SCORE = "change_score"
ROLE_REGIONS = "change_regions"
ROLE_LEFT_OUT = "left_out"
ROLE_DETECTIONS_BEFORE = "detections_before"
ROLE_DETECTIONS_AFTER = "detections_after"

EVENTS = ("arrived", "departed", "stayed", "moved")


@dataclass
class AnalysisOutputs:
    """The files of one finished analysis (from a run or from the site's history)."""

    title: str
    gpkg_path: str
    score_path: Optional[str] = None
    before_path: Optional[str] = None
    after_path: Optional[str] = None
    before_date: str = ""
    after_date: str = ""

    @classmethod
    def from_result(cls, result) -> "AnalysisOutputs":
        p = result.params
        return cls(result.title, result.gpkg_path, result.score_path, p.before_path, p.after_path, p.before_date, p.after_date)

    @classmethod
    def from_record(cls, record) -> "AnalysisOutputs":
        return cls(
            record.title, record.gpkg_path, record.score_path or None, record.before_path, record.after_path,
            record.before_date, record.after_date,
        )


def style_change_score(layer: QgsRasterLayer, threshold: float = 0.5) -> None:
    """Load the change-score style and hide scores below `threshold` (transparent to red)."""
    layer.loadNamedStyle(style_path("change_score.qml"))
    threshold = min(max(float(threshold), 0.0), 0.99)
    shader = QgsColorRampShader(threshold, 1.0)
    shader.setColorRampType(QgsColorRampShader.Type.Interpolated)
    shader.setClip(True)
    shader.setColorRampItemList(
        [
            QgsColorRampShader.ColorRampItem(threshold, QColor(255, 60, 0, 90), f"{threshold:.2f} (threshold)"),
            QgsColorRampShader.ColorRampItem(1.0, QColor(220, 0, 0, 230), "1.00 (certain change)"),
        ]
    )
    raster_shader = QgsRasterShader()
    raster_shader.setRasterShaderFunction(shader)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, raster_shader)
    renderer.setClassificationMin(threshold)
    renderer.setClassificationMax(1.0)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def _mark(layer: QgsMapLayer, role: str, gpkg_path: str) -> None:
    layer.setCustomProperty(OUTPUT_PROPERTY, True)
    layer.setCustomProperty(ROLE_PROPERTY, role)
    layer.setCustomProperty(GROUP_PROPERTY, gpkg_path)


def _vector(gpkg_path: str, table: str, name: str) -> Optional[QgsVectorLayer]:
    layer = QgsVectorLayer(f"{gpkg_path}|layername={table}", name, "ogr")
    return layer if layer.isValid() else None


def detections_layer(gpkg_path: str, table: str, name: str) -> Optional[QgsVectorLayer]:
    layer = _vector(gpkg_path, table, name)
    if layer is not None:
        layer.loadNamedStyle(style_path("detections.qml"))
    return layer


def regions_layer(gpkg_path: str, name: str = "Change regions") -> Optional[QgsVectorLayer]:
    layer = _vector(gpkg_path, LAYER_REGIONS, name)
    if layer is not None:
        layer.loadNamedStyle(style_path("change_regions.qml"))
    return layer


def left_out_layer(gpkg_path: str, name: str = "Left out (not judged)") -> Optional[QgsVectorLayer]:
    """The areas the analysis left out, outlined (absent when nothing was left out)."""
    layer = _vector(gpkg_path, LAYER_LEFT_OUT, name)
    if layer is not None:
        style_left_out(layer)
    return layer


def style_left_out(layer: QgsVectorLayer) -> None:
    """Areas left out of an analysis (clouds, haze): hatched grey, dashed blue outline."""
    layer.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple({
        "style": "b_diagonal", "color": "120,120,120,160", "outline_color": "#1f78b4",
        "outline_style": "dash", "outline_width": "0.6"})))


def add_analysis_layers(
    outputs: AnalysisOutputs, threshold: float = 0.5, project: Optional[QgsProject] = None
) -> QgsLayerTreeGroup:
    """Add one group named after the analysis at the top of the layer tree; returns it.

    Order, top to bottom: areas left out (when any), detections after, detections before,
    change regions, change score, after capture, before capture (the before capture starts hidden so flicker shows after).
    A group with the same title is replaced, so reopening an analysis never duplicates it.
    """
    project = project or QgsProject.instance()
    root = project.layerTreeRoot()
    old = root.findGroup(outputs.title)
    if old is not None:
        remove_group(old, project)
    group = root.insertGroup(0, outputs.title)
    group.setExpanded(True)
    group.setCustomProperty(GROUP_PROPERTY, outputs.gpkg_path)
    before_label = outputs.before_date or "before"
    after_label = outputs.after_date or "after"

    candidates: list[tuple[Optional[QgsMapLayer], str, bool]] = [
        (left_out_layer(outputs.gpkg_path), ROLE_LEFT_OUT, True),
        (detections_layer(outputs.gpkg_path, LAYER_AFTER, f"Equipment {after_label}"), ROLE_DETECTIONS_AFTER, True),
        (detections_layer(outputs.gpkg_path, LAYER_BEFORE, f"Equipment {before_label}"), ROLE_DETECTIONS_BEFORE, False),
        (regions_layer(outputs.gpkg_path), ROLE_REGIONS, True),
    ]
    if outputs.score_path and Path(outputs.score_path).exists():
        score = QgsRasterLayer(outputs.score_path, "Change score")
        if score.isValid():
            style_change_score(score, threshold)
            candidates.append((score, ROLE_SCORE, True))
    for path, role, label, visible in (
        (outputs.after_path, ROLE_AFTER_CAPTURE, f"After {after_label}", True),
        (outputs.before_path, ROLE_BEFORE_CAPTURE, f"Before {before_label}", False),
    ):
        if path and Path(path).exists():
            layer = QgsRasterLayer(path, label)
            if layer.isValid():
                candidates.append((layer, role, visible))

    for layer, role, visible in candidates:
        if layer is None:
            continue
        _mark(layer, role, outputs.gpkg_path)
        project.addMapLayer(layer, False)
        node = group.addLayer(layer)
        node.setItemVisibilityChecked(visible)
        if role in (ROLE_DETECTIONS_AFTER, ROLE_DETECTIONS_BEFORE, ROLE_REGIONS):
            node.setExpanded(role == ROLE_DETECTIONS_AFTER)
        else:
            node.setExpanded(False)
    group.setExpanded(False)  # a layer tree view may collapse a group as it fills: re-announce it
    group.setExpanded(True)
    return group


def remove_group(group: QgsLayerTreeGroup, project: Optional[QgsProject] = None) -> None:
    """Remove an analysis group and its layers from the project."""
    project = project or QgsProject.instance()
    ids = [node.layerId() for node in group.findLayers()]
    parent = group.parent()
    if parent is not None:
        parent.removeChildNode(group)
    project.removeMapLayers(ids)


def group_layers(group: QgsLayerTreeGroup) -> dict[str, QgsMapLayer]:
    """role -> layer for the layers of an analysis group."""
    found = {}
    for node in group.findLayers():
        layer = node.layer()
        if layer is not None:
            role = layer.customProperty(ROLE_PROPERTY, "")
            if role:
                found[role] = layer
    return found


def set_capture_visible(group: QgsLayerTreeGroup, which: str) -> None:
    """Show only the 'before' or 'after' capture (and the matching detections) of a group."""
    layers = group_layers(group)
    show_after = which == "after"
    root = group
    for role, visible in (
        (ROLE_AFTER_CAPTURE, show_after),
        (ROLE_BEFORE_CAPTURE, not show_after),
        (ROLE_DETECTIONS_AFTER, show_after),
        (ROLE_DETECTIONS_BEFORE, not show_after),
    ):
        layer = layers.get(role)
        if layer is None:
            continue
        node = root.findLayer(layer.id())
        if node is not None:
            node.setItemVisibilityChecked(visible)
