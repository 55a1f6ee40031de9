"""The SiteWatch dock panel (shell: lists the project's rasters as candidate captures)."""
from __future__ import annotations

from qgis.core import QgsMapLayerProxyModel, QgsProject, QgsRasterLayer
from qgis.gui import QgsDockWidget, QgsMapLayerComboBox
from qgis.PyQt.QtWidgets import QFormLayout, QLabel, QPushButton, QVBoxLayout, QWidget


class SiteWatchDock(QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__("SiteWatch", parent)
        self.iface = iface
        body = QWidget(self)
        layout = QVBoxLayout(body)
        form = QFormLayout()
        self.before_combo = QgsMapLayerComboBox(body)
        self.before_combo.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.before_combo.setToolTip("The earlier capture of the site")
        self.after_combo = QgsMapLayerComboBox(body)
        self.after_combo.setFilters(QgsMapLayerProxyModel.Filter.RasterLayer)
        self.after_combo.setToolTip("The later capture of the site")
        form.addRow("Before", self.before_combo)
        form.addRow("After", self.after_combo)
        layout.addLayout(form)
        self.status_label = QLabel(body)
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self.run_button = QPushButton("Run", body)
        layout.addWidget(self.run_button)
        layout.addStretch(1)
        self.setWidget(body)
        QgsProject.instance().layersAdded.connect(self._refresh_status)
        QgsProject.instance().layersRemoved.connect(self._refresh_status)
        self._refresh_status()

    def _refresh_status(self, *_args) -> None:
        rasters = [
            layer for layer in QgsProject.instance().mapLayers().values() if isinstance(layer, QgsRasterLayer)
        ]
        self.status_label.setText(f"{len(rasters)} raster layer(s) in the project can serve as captures.")

    def shutdown(self) -> None:
        """Disconnect from project signals before the plugin unloads."""
        QgsProject.instance().layersAdded.disconnect(self._refresh_status)
        QgsProject.instance().layersRemoved.disconnect(self._refresh_status)
