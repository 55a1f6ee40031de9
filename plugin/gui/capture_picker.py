"""Before / After pickers: the site's captures by date with sensor, GSD and coverage."""
from __future__ import annotations

from typing import Optional

from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QComboBox, QGridLayout, QLabel, QToolButton, QWidget

from ..qgisio.captures import LayerCapture


class CapturePicker(QWidget):
    """Two combos holding LayerCapture objects; swap and set-date buttons."""

    selectionChanged = pyqtSignal()
    setDateRequested = pyqtSignal(str)  # layer id

    def __init__(self, parent=None):
        super().__init__(parent)
        self.captures: list[LayerCapture] = []
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.before_combo = QComboBox(self)
        self.before_combo.setToolTip(
            "The earlier capture. Lists every raster layer of the project that covers the site, "
            "oldest first: date · sensor · ground sample distance · share of the site covered."
        )
        self.after_combo = QComboBox(self)
        self.after_combo.setToolTip("The later capture, compared against the Before capture.")
        for combo in (self.before_combo, self.after_combo):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
        self.swap_button = QToolButton(self)
        self.swap_button.setText("⇅")
        self.swap_button.setToolTip("Swap the Before and After captures.")
        self.before_date_button = QToolButton(self)
        self.before_date_button.setText("Date…")
        self.before_date_button.setToolTip(
            "Enter or correct the capture date of the Before layer (needed for web/XYZ layers "
            "and files without metadata). The date is remembered with the layer and the site."
        )
        self.after_date_button = QToolButton(self)
        self.after_date_button.setText("Date…")
        self.after_date_button.setToolTip(
            "Enter or correct the capture date of the After layer. The date is remembered with "
            "the layer and the site."
        )
        before_label = QLabel("Before", self)
        before_label.setToolTip(self.before_combo.toolTip())
        after_label = QLabel("After", self)
        after_label.setToolTip(self.after_combo.toolTip())
        grid.addWidget(before_label, 0, 0)
        grid.addWidget(self.before_combo, 0, 1)
        grid.addWidget(self.before_date_button, 0, 2)
        grid.addWidget(self.swap_button, 0, 3, 2, 1)
        grid.addWidget(after_label, 1, 0)
        grid.addWidget(self.after_combo, 1, 1)
        grid.addWidget(self.after_date_button, 1, 2)
        grid.setColumnStretch(1, 1)
        self.hint_label = QLabel(self)
        self.hint_label.setWordWrap(True)
        self.hint_label.setToolTip("Where each date was read from, and warnings about the chosen pair.")
        grid.addWidget(self.hint_label, 2, 0, 1, 4)

        self.before_combo.currentIndexChanged.connect(self._changed)
        self.after_combo.currentIndexChanged.connect(self._changed)
        self.swap_button.clicked.connect(self.swap)
        self.before_date_button.clicked.connect(lambda _c=False: self._ask_date(self.before()))
        self.after_date_button.clicked.connect(lambda _c=False: self._ask_date(self.after()))
        self._update_hint()

    # ---------------------------------------------------------------- content
    def set_captures(self, captures: list[LayerCapture]) -> None:
        """Fill both pickers; keep the chosen layers when still present, else oldest/newest."""
        old_before = self.before().layer_id if self.before() else None
        old_after = self.after().layer_id if self.after() else None
        self.captures = list(captures)
        for combo in (self.before_combo, self.after_combo):
            combo.blockSignals(True)
            combo.clear()
            for cap in self.captures:
                combo.addItem(cap.label, cap.layer_id)
                tip = (
                    f"{cap.name}\nDate: {cap.date_text}"
                    + (f" (from {cap.date.source})" if cap.date else " — use Date… to enter it")
                    + f"\nSensor: {cap.sensor or 'unknown'}\nGSD: {f'{cap.gsd_m:.2f} m' if cap.gsd_m else 'unknown'}"
                    + f"\nCovers {cap.coverage:.0%} of the site\n{cap.path or 'web / service layer'}"
                )
                combo.setItemData(combo.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
            combo.blockSignals(False)
        ids = [c.layer_id for c in self.captures]
        dated = [c for c in self.captures if c.date]
        default_before = (dated[0] if dated else (self.captures[0] if self.captures else None))
        default_after = (dated[-1] if len(dated) > 1 else (self.captures[-1] if len(self.captures) > 1 else None))
        self._select(self.before_combo, old_before if old_before in ids else (default_before.layer_id if default_before else None))
        self._select(self.after_combo, old_after if old_after in ids else (default_after.layer_id if default_after else None))
        self._changed()

    def _select(self, combo: QComboBox, layer_id: Optional[str]) -> None:
        combo.blockSignals(True)
        combo.setCurrentIndex(combo.findData(layer_id) if layer_id else -1)
        combo.blockSignals(False)

    def _capture(self, combo: QComboBox) -> Optional[LayerCapture]:
        layer_id = combo.currentData()
        return next((c for c in self.captures if c.layer_id == layer_id), None)

    def before(self) -> Optional[LayerCapture]:
        return self._capture(self.before_combo)

    def after(self) -> Optional[LayerCapture]:
        return self._capture(self.after_combo)

    def select(self, before_id: Optional[str], after_id: Optional[str]) -> None:
        self._select(self.before_combo, before_id)
        self._select(self.after_combo, after_id)
        self._changed()

    def swap(self) -> None:
        before, after = self.before(), self.after()
        self.select(after.layer_id if after else None, before.layer_id if before else None)

    # ---------------------------------------------------------------- feedback
    def _ask_date(self, capture: Optional[LayerCapture]) -> None:
        if capture is not None:
            self.setDateRequested.emit(capture.layer_id)

    def problems(self) -> list[str]:
        """Why the chosen pair cannot run (empty list when it can)."""
        before, after = self.before(), self.after()
        if not self.captures:
            return ["No raster layer of the project covers this site: add the two captures to the project."]
        if before is None or after is None:
            return ["Choose a Before and an After capture."]
        if before.layer_id == after.layer_id:
            return ["Before and After are the same layer: choose two captures."]
        return []

    def warnings(self) -> list[str]:
        before, after = self.before(), self.after()
        out = []
        if before and after and before.date and after.date and before.date.date > after.date.date:
            out.append("Before is later than After: press ⇅ to swap.")
        for cap, label in ((before, "Before"), (after, "After")):
            if cap and not cap.date:
                out.append(f"{label} has no date: press Date… beside it.")
            if cap and cap.coverage < 0.999:
                out.append(f"{label} covers only {cap.coverage:.0%} of the site.")
            if cap and cap.path is None:
                out.append(f"{label} is a web layer: it is saved over the site as GeoTIFF when you run.")
        return out

    def _update_hint(self) -> None:
        lines = []
        for cap, label in ((self.before(), "Before"), (self.after(), "After")):
            if cap and cap.date:
                lines.append(f"{label}: {cap.date.date:%Y-%m-%d %H:%M} UTC, from {cap.date.source}")
        lines += self.problems() + self.warnings()
        self.hint_label.setText("\n".join(lines))
        self.before_date_button.setEnabled(self.before() is not None)
        self.after_date_button.setEnabled(self.after() is not None)
        self.swap_button.setEnabled(self.before() is not None or self.after() is not None)

    def _changed(self, *_args) -> None:
        self._update_hint()
        self.selectionChanged.emit()
