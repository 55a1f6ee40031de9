"""Site selector: the project's named sites, buttons to make one from the map, and the sample site."""
from __future__ import annotations

from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QWidget

from .forms import load_form


class SiteSelector(QWidget):
    """A combo of sites and its buttons (ui/site_selector.ui); the dock does the work behind the signals."""

    siteChanged = pyqtSignal(str)  # site name, "" when none
    drawRequested = pyqtSignal()
    fromSelectionRequested = pyqtSignal()
    removeRequested = pyqtSignal(str)
    zoomRequested = pyqtSignal()
    sampleRequested = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        load_form("site_selector", self)
        self.combo.currentIndexChanged.connect(lambda _i: self.siteChanged.emit(self.current_name()))
        self.draw_button.clicked.connect(lambda _c=False: self.drawRequested.emit())
        self.selection_button.clicked.connect(lambda _c=False: self.fromSelectionRequested.emit())
        self.remove_button.clicked.connect(lambda _c=False: self.removeRequested.emit(self.current_name()))
        self.zoom_button.clicked.connect(lambda _c=False: self.zoomRequested.emit())
        self.sample_button.clicked.connect(lambda _c=False: self.sampleRequested.emit())
        self._update_buttons()

    def current_name(self) -> str:
        return self.combo.currentText() if self.combo.currentIndex() >= 0 else ""

    def set_sites(self, names: list[str], current: str = "") -> None:
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItems(names)
        index = names.index(current) if current in names else (0 if names else -1)
        self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)
        self._update_buttons()
        self.siteChanged.emit(self.current_name())

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.combo.count() > 0)
        self.zoom_button.setEnabled(self.combo.count() > 0)
