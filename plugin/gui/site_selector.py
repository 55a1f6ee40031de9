"""Site selector: the project's named sites, buttons to make one from the map, and the sample site."""
from __future__ import annotations

from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget


class SiteSelector(QWidget):
    """A combo of sites and three buttons; the dock does the work behind the signals."""

    siteChanged = pyqtSignal(str)  # site name, "" when none
    drawRequested = pyqtSignal()
    fromSelectionRequested = pyqtSignal()
    removeRequested = pyqtSignal(str)
    zoomRequested = pyqtSignal()
    sampleRequested = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.combo = QComboBox(self)
        self.combo.setToolTip(
            "The site (area of interest) to analyse. Each site keeps its own capture dates and "
            "the history of its analyses. Make one with the buttons on the right."
        )
        self.combo.setPlaceholderText("No site yet: draw one or use a selected polygon")
        self.draw_button = QToolButton(self)
        self.draw_button.setText("Draw")
        self.draw_button.setCheckable(True)
        self.draw_button.setToolTip(
            "Draw a new site on the map: click each corner, then right-click (or double-click, "
            "or press Enter) to finish. Esc cancels, Backspace removes the last corner."
        )
        self.selection_button = QToolButton(self)
        self.selection_button.setText("From selection")
        self.selection_button.setToolTip(
            "Make a new site from the polygon(s) selected in the active layer "
            "(select them on the map with the Select Features tool first)."
        )
        self.zoom_button = QToolButton(self)
        self.zoom_button.setText("Zoom to")
        self.zoom_button.setToolTip("Zoom the map to this site (its outline is drawn dashed in yellow).")
        self.remove_button = QToolButton(self)
        self.remove_button.setText("Remove")
        self.remove_button.setToolTip("Forget this site in the project (its files on disk are kept).")
        self.sample_button = QToolButton(self)
        self.sample_button.setText("Try the sample site")
        self.sample_button.setToolTip(
            "Open SiteWatch's sample site: a synthetic air base imaged on two dates (prepared once, "
            "about half a minute), with example boxes of aircraft and air-defence launchers. The "
            "site, both captures and the examples are filled in: press Run analysis."
        )
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.draw_button.setText("Draw on map")
        self.selection_button.setText("From selected polygon")
        layout.addWidget(self.combo)
        row.addWidget(self.draw_button)
        row.addWidget(self.selection_button)
        row.addStretch(1)
        row.addWidget(self.zoom_button)
        row.addWidget(self.remove_button)
        layout.addLayout(row)
        layout.addWidget(self.sample_button)
        self.info_label = QLabel(self)
        self.info_label.setWordWrap(True)
        self.info_label.setToolTip("Area of the site and where its workspace (history, dates) is stored.")
        layout.addWidget(self.info_label)

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
