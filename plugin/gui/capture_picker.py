"""Before / After pickers: the site's captures by date with sensor, GSD and coverage."""
from __future__ import annotations

from html import escape
from typing import Optional

from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtWidgets import QComboBox, QWidget

from ..qgisio.captures import LayerCapture
from .forms import load_form

PROBLEM_COLOUR = "#b3261e"  # a problem that keeps Run disabled, shown beside its control


class CapturePicker(QWidget):
    """Two combos holding LayerCapture objects; swap and set-date buttons (ui/capture_picker.ui)."""

    selectionChanged = pyqtSignal()
    setDateRequested = pyqtSignal(str)  # layer id

    def __init__(self, parent=None):
        super().__init__(parent)
        self.captures: list[LayerCapture] = []
        self.has_site = False
        load_form("capture_picker", self)
        self.before_combo.currentIndexChanged.connect(self._changed)
        self.after_combo.currentIndexChanged.connect(self._changed)
        self.swap_button.clicked.connect(self.swap)
        self.before_date_button.clicked.connect(lambda _c=False: self._ask_date(self.before()))
        self.after_date_button.clicked.connect(lambda _c=False: self._ask_date(self.after()))
        self._update_hint()

    # ---------------------------------------------------------------- content
    def set_captures(self, captures: list[LayerCapture], has_site: bool = True) -> None:
        """Fill both pickers; keep the chosen layers when still present, else oldest/newest.
        Without a site there is nothing to list, and the hint says so (not "no raster")."""
        self.has_site = has_site
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
        if not self.has_site:
            return ["Choose a site first: the captures over it are listed then."]
        if not self.captures:
            return ["No raster layer of the project covers this site: add the two captures to the project."]
        if before is None or after is None:
            return ["Choose a Before and an After capture."]
        if before.layer_id == after.layer_id:
            return ["Before and After are the same layer: choose two captures."]
        if before.date and after.date and before.date.date > after.date.date:
            return [f"Before ({before.date_text}) is later than After ({after.date_text}): press ⇅ Swap."]
        return []

    def warnings(self) -> list[str]:
        before, after = self.before(), self.after()
        out = []
        for cap, label in ((before, "Before"), (after, "After")):
            if cap and not cap.date:
                out.append(f"{label} has no date: press Date… beside it.")
            if cap and cap.coverage < 0.999:
                out.append(f"{label} covers only {cap.coverage:.0%} of the site.")
            if cap and cap.path is None:
                out.append(f"{label} is a web layer: it is saved over the site as GeoTIFF when you run.")
        return out

    def _update_hint(self) -> None:
        if not self.has_site:
            self.hint_label.setText("The captures over the site are listed here once a site is chosen.")
        else:
            lines = []
            for cap, label in ((self.before(), "Before"), (self.after(), "After")):
                if cap and cap.date:
                    lines.append(escape(f"{label}: {cap.date.date:%Y-%m-%d %H:%M} UTC, from {cap.date.source}"))
            lines += [f'<span style="color:{PROBLEM_COLOUR}">{escape(p)}</span>' for p in self.problems()]
            lines += [escape(w) for w in self.warnings()]
            self.hint_label.setText("<br>".join(lines))
        self.before_date_button.setEnabled(self.before() is not None)
        self.after_date_button.setEnabled(self.after() is not None)
        self.swap_button.setEnabled(self.before() is not None or self.after() is not None)

    def _changed(self, *_args) -> None:
        self._update_hint()
        self.selectionChanged.emit()
