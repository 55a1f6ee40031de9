"""The reviewed objects of an analysis as a layer of its group, styled by review status."""
from __future__ import annotations

from typing import Optional

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsFillSymbol,
    QgsLayerTreeGroup,
    QgsProject,
    QgsRendererCategory,
    QgsVectorLayer,
)

from ..store.review_analysis import LAYER_REVIEWED
from .analysis_layers import GROUP_PROPERTY, OUTPUT_PROPERTY, ROLE_PROPERTY, group_layers

ROLE_REVIEWED = "reviewed_objects"

# status -> (outline colour, fill, line style, legend label)
STATUS_STYLES = {
    "pending": ("255,200,0", "0,0,0,0", "dash", "to review"),
    "accepted": ("40,200,80", "40,200,80,40", "solid", "accepted"),
    "rejected": ("150,150,150", "0,0,0,0", "dot", "rejected"),
}


def style_reviewed(layer: QgsVectorLayer) -> None:
    """Categories on `status`: dashed yellow to review, green accepted, dotted grey rejected."""
    categories = []
    for status, (outline, fill, line, label) in STATUS_STYLES.items():
        symbol = QgsFillSymbol.createSimple({"color": fill, "outline_color": outline, "outline_style": line,
                                             "outline_width": "0.7"})
        categories.append(QgsRendererCategory(status, symbol, label))
    layer.setRenderer(QgsCategorizedSymbolRenderer("status", categories))


def add_reviewed_layer(group: QgsLayerTreeGroup, gpkg_path: str, project: Optional[QgsProject] = None
                       ) -> Optional[QgsVectorLayer]:
    """The group's reviewed-objects layer (added on top the first time)."""
    project = project or QgsProject.instance()
    existing = group_layers(group).get(ROLE_REVIEWED)
    if existing is not None:
        return existing
    layer = QgsVectorLayer(f"{gpkg_path}|layername={LAYER_REVIEWED}", "Reviewed objects", "ogr")
    if not layer.isValid():
        return None
    style_reviewed(layer)
    for key, value in ((OUTPUT_PROPERTY, True), (ROLE_PROPERTY, ROLE_REVIEWED), (GROUP_PROPERTY, gpkg_path)):
        layer.setCustomProperty(key, value)
    project.addMapLayer(layer, False)
    group.insertLayer(0, layer)
    return layer


def refresh_layer(layer: Optional[QgsVectorLayer]) -> None:
    """Show what the file holds now (rows rewritten after a decision)."""
    if layer is None:
        return
    try:
        layer.dataProvider().reloadData()
        layer.triggerRepaint()
    except RuntimeError:  # the layer was removed from the project
        pass
