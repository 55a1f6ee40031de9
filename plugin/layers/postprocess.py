"""Style Processing outputs as QGIS loads them on completion (a layer post-processor).

An algorithm calls `style_output_on_completion(context, dest, "detections.qml")` for an
output that the user asked to open; when Processing loads the layer it applies the QML
from resources/styles/ (the change score also gets its threshold).
"""
from __future__ import annotations

import threading
from typing import Optional

from qgis.core import (
    QgsMapLayer,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt import sip

from ..resources import style_path
from .analysis_layers import style_change_score

STYLE_SCORE = "change_score.qml"
STYLE_REGIONS = "change_regions.qml"
STYLE_EVENTS = "detections.qml"
STYLE_DETECTIONS = "detections_plain.qml"

# The context owns a post-processor once it is set, but the Python half of the object must
# stay referenced until Processing calls it, or Python collects it and the call crashes.
_alive: list[QgsProcessingLayerPostProcessorInterface] = []
_alive_lock = threading.Lock()


def apply_output_style(layer: Optional[QgsMapLayer], style_name: str, threshold: Optional[float] = None) -> bool:
    """Apply a style of resources/styles/ to a layer; False when it could not be applied.

    The event style (detections.qml) needs an `event` field: plain detections get the
    plain detection style instead.
    """
    if layer is None or not layer.isValid():
        return False
    if style_name == STYLE_SCORE and isinstance(layer, QgsRasterLayer):
        style_change_score(layer, 0.5 if threshold is None else threshold)
        return True
    if style_name == STYLE_EVENTS and isinstance(layer, QgsVectorLayer) and layer.fields().indexOf("event") < 0:
        style_name = STYLE_DETECTIONS
    _message, ok = layer.loadNamedStyle(style_path(style_name))
    layer.triggerRepaint()
    return bool(ok)


class StyleOnLoad(QgsProcessingLayerPostProcessorInterface):
    """Applies one style of resources/styles/ to an output layer once Processing has loaded it."""

    def __init__(self, style_name: str, threshold: Optional[float] = None):
        super().__init__()
        self.style_name = style_name
        self.threshold = threshold

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802
        if not apply_output_style(layer, self.style_name, self.threshold) and feedback is not None:
            feedback.pushInfo(f"Could not apply the style {self.style_name} to {layer.name() if layer else 'an output'}.")


def _keep(processor: StyleOnLoad) -> None:
    with _alive_lock:
        _alive[:] = [p for p in _alive if not sip.isdeleted(p)]  # drop those whose context is gone
        _alive.append(processor)


def style_output_on_completion(
    context: QgsProcessingContext, layer_id_or_path: str, style_name: str, threshold: Optional[float] = None
) -> bool:
    """Style an output when Processing loads it on completion; False (nothing done) when it is not loaded.

    `layer_id_or_path` is the destination returned by parameterAsSink / parameterAsOutputLayer;
    `threshold` is the change-score threshold (change_score.qml only).
    """
    if not layer_id_or_path or not context.willLoadLayerOnCompletion(layer_id_or_path):
        return False
    processor = StyleOnLoad(style_name, threshold)
    _keep(processor)
    context.layerToLoadOnCompletionDetails(layer_id_or_path).setPostProcessor(processor)
    return True
