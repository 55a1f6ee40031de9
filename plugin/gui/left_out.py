"""'Leave out': an optional polygon layer over clouds, haze or anything not to judge."""
from __future__ import annotations

from typing import Optional

from qgis.core import QgsMapLayerProxyModel, QgsVectorLayer
from qgis.gui import QgsMapLayerComboBox
from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QHBoxLayout, QLabel, QWidget


class LeftOutPicker(QWidget):
    """A label and a polygon-layer combo (empty by default); `changed` when the layer changes."""

    changed = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.combo = QgsMapLayerComboBox(self)
        self.combo.setFilters(QgsMapLayerProxyModel.Filter.PolygonLayer)
        self.combo.setAllowEmptyLayer(True)
        self.combo.setLayer(None)
        self.combo.setToolTip(
            "Optional: a polygon layer outlining clouds, haze or anything else on either date that "
            "should not be judged. Inside its polygons no change is reported and no equipment is "
            "counted, on both dates; the summary says how much of the site was left out."
        )
        label = QLabel("Leave out", self)
        label.setToolTip(self.combo.toolTip())
        row.addWidget(label)
        row.addWidget(self.combo, 1)
        self.combo.layerChanged.connect(lambda _layer: self.changed.emit())

    def layer(self) -> Optional[QgsVectorLayer]:
        return self.combo.currentLayer()

    def set_layer(self, layer: Optional[QgsVectorLayer]) -> None:
        self.combo.setLayer(layer)
