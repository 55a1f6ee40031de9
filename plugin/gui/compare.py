"""Flicker / swipe between the two dates of the shown analysis."""
from __future__ import annotations

from qgis.PyQt.QtCore import Qt, QTimer, pyqtSignal
from qgis.PyQt.QtWidgets import QButtonGroup, QGridLayout, QLabel, QSizePolicy, QSlider, QSpinBox, QToolButton, QWidget

SWIPE_OFF = 100  # slider value: the line at the right edge, After everywhere


class CompareControl(QWidget):
    """Before / After buttons, a Flicker toggle that alternates them on a timer, and a swipe slider (code-built)."""

    showRequested = pyqtSignal(str)  # "before" | "after"
    swipeRequested = pyqtSignal(float)  # line position 0..1 across the map; 1.0 = swipe off

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QGridLayout(self)  # three short rows: fits a narrow dock
        layout.setContentsMargins(0, 0, 0, 0)
        self.before_button = self._button("Before", "Show the Before capture and its equipment (hides After).")
        self.after_button = self._button("After", "Show the After capture and its equipment (hides Before).")
        self.after_button.setChecked(True)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.group.addButton(self.before_button)
        self.group.addButton(self.after_button)
        self.flicker_button = self._button(
            "Flicker", "Alternate Before and After automatically; changes jump out. Click again to stop.")
        self.interval_spin = QSpinBox(self)
        self.interval_spin.setRange(200, 5000)
        self.interval_spin.setSingleStep(100)
        self.interval_spin.setValue(800)
        self.interval_spin.setSuffix(" ms")
        self.interval_spin.setToolTip("How long each date stays on screen while flickering.")
        label = QLabel("Swipe", self)
        label.setToolTip("Drag the slider to the left to compare the two dates on either side of a line on the map.")
        self.swipe_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.swipe_slider.setRange(0, SWIPE_OFF)
        self.swipe_slider.setValue(SWIPE_OFF)
        self.swipe_slider.setMinimumWidth(60)
        self.swipe_slider.setToolTip(
            "Swipe: drag to the left to show After left of a line on the map and Before right of it. "
            "At the right end the map shows After only; the Before / After buttons end the swipe."
        )
        layout.addWidget(self.before_button, 0, 0)
        layout.addWidget(self.after_button, 0, 1)
        layout.addWidget(self.flicker_button, 1, 0)
        layout.addWidget(self.interval_spin, 1, 1)
        layout.addWidget(label, 2, 0)
        layout.addWidget(self.swipe_slider, 2, 1)
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.toggle)
        self.before_button.clicked.connect(lambda _c=False: self.show_date("before"))
        self.after_button.clicked.connect(lambda _c=False: self.show_date("after"))
        self.flicker_button.toggled.connect(self.set_flicker)
        self.interval_spin.valueChanged.connect(self.timer.setInterval)
        self.swipe_slider.valueChanged.connect(self._on_swipe)

    def _button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setCheckable(True)
        button.setToolTip(tip)
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        return button

    @property
    def swipe_position(self) -> float:
        """Where the swipe line is across the map (0 left edge .. 1 right edge = no swipe)."""
        return self.swipe_slider.value() / SWIPE_OFF

    def _on_swipe(self, value: int) -> None:
        if value < SWIPE_OFF:
            self.set_flicker(False)
            self.after_button.setChecked(True)  # After is the map under the swipe
        self.swipeRequested.emit(value / SWIPE_OFF)

    def reset_swipe(self) -> None:
        """Put the slider back at the right end (no swipe) without asking for anything."""
        self.swipe_slider.blockSignals(True)
        self.swipe_slider.setValue(SWIPE_OFF)
        self.swipe_slider.blockSignals(False)

    @property
    def shown(self) -> str:
        return "before" if self.before_button.isChecked() else "after"

    def show_date(self, which: str) -> None:
        self.reset_swipe()
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
