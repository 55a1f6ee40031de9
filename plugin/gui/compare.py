"""Flicker / swipe between the two dates of the shown analysis."""
from __future__ import annotations

from qgis.PyQt.QtCore import QTimer, pyqtSignal
from qgis.PyQt.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QSpinBox, QWidget


class CompareControl(QWidget):
    """Before / After buttons and a Flicker toggle that alternates them on a timer."""

    showRequested = pyqtSignal(str)  # "before" | "after"

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.before_button = QPushButton("Before", self)
        self.before_button.setCheckable(True)
        self.before_button.setToolTip("Show the Before capture and its equipment (hides After).")
        self.after_button = QPushButton("After", self)
        self.after_button.setCheckable(True)
        self.after_button.setChecked(True)
        self.after_button.setToolTip("Show the After capture and its equipment (hides Before).")
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.group.addButton(self.before_button)
        self.group.addButton(self.after_button)
        self.flicker_button = QPushButton("Flicker", self)
        self.flicker_button.setCheckable(True)
        self.flicker_button.setToolTip("Alternate Before and After automatically; changes jump out. Click again to stop.")
        self.interval_spin = QSpinBox(self)
        self.interval_spin.setRange(200, 5000)
        self.interval_spin.setSingleStep(100)
        self.interval_spin.setValue(800)
        self.interval_spin.setSuffix(" ms")
        self.interval_spin.setToolTip("How long each date stays on screen while flickering.")
        label = QLabel("Compare", self)
        label.setToolTip("Switch the map between the two dates of the analysis shown.")
        layout.addWidget(label)
        layout.addWidget(self.before_button)
        layout.addWidget(self.after_button)
        layout.addWidget(self.flicker_button)
        layout.addWidget(self.interval_spin)
        layout.addStretch(1)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.toggle)
        self.before_button.clicked.connect(lambda _c=False: self.show_date("before"))
        self.after_button.clicked.connect(lambda _c=False: self.show_date("after"))
        self.flicker_button.toggled.connect(self.set_flicker)
        self.interval_spin.valueChanged.connect(self.timer.setInterval)

    @property
    def shown(self) -> str:
        return "before" if self.before_button.isChecked() else "after"

    def show_date(self, which: str) -> None:
        (self.before_button if which == "before" else self.after_button).setChecked(True)
        self.showRequested.emit(which)

    def toggle(self) -> None:
        self.show_date("after" if self.shown == "before" else "before")

    def set_flicker(self, on: bool) -> None:
        if on:
            self.timer.start(self.interval_spin.value())
        else:
            self.timer.stop()
        if self.flicker_button.isChecked() != on:
            self.flicker_button.setChecked(on)

    def stop(self) -> None:
        self.set_flicker(False)
