"""'Leave out': an optional polygon layer over clouds, haze or anything not to judge."""
from __future__ import annotations

from typing import Optional

from qgis.core import QgsMapLayerProxyModel, QgsVectorLayer
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QWidget

from .forms import load_form


class LeftOutPicker(QWidget):
    """A label and a polygon-layer combo, empty by default (ui/left_out.ui); `changed` when the layer changes."""

    changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        load_form("left_out", self)
        self.combo.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        self.combo.setLayer(None)
        self.combo.layerChanged.connect(lambda _layer: self.changed.emit())

    def layer(self) -> Optional[QgsVectorLayer]:
        return self.combo.currentLayer()

    def set_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        self.combo.setLayer(layer)
