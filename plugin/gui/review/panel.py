"""The review panel: a queue of an analysis's objects and change regions, reviewed with the keyboard.

Layout: ui/review_panel.ui. The panel holds no review logic: every decision goes to the
ReviewSession (plugin/store/review_session.py), which commits it and derives the new state;
the panel then shows the state (queue, counts, "38 of 52 reviewed") and moves the map.
"""
from __future__ import annotations

from typing import Optional

from qgis.core import (
    Qgis,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsGeometry,
    QgsProject,
    QgsRectangle,
    QgsWkbTypes,
)
from qgis.gui import QgsDockWidget, QgsRubberBand
from qgis.PyQt import uic
from qgis.PyQt.QtCore import QEvent, QObject, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QHeaderView, QTableWidgetItem

from ...core.equipment.catalogue import Catalogue
from ...layers.analysis_layers import set_capture_visible
from ...resources import UI
from ...store.review import REGION_REASONS, ReviewStoreError
from ...store.review_session import QueueFilter, ReviewSession
from ...store.review_state import ObjectState
from .map_tool import OrientedBoxTool

FORM_CLASS, _FORM_BASE = uic.loadUiType(str(UI / "review_panel.ui"))
MESSAGE_TITLE = "SiteWatch review"
NUMBER_KEYS = [getattr(Qt.Key, f"Key_{k}") for k in "1234567890"]
ALL = "(all)"
MIN_VIEW_M = 60.0  # zoom shows at least this much ground around an object


def relabel_classes(session: ReviewSession, catalogue: Catalogue) -> list[str]:
    """Classes offered for relabelling: those of the analysis (most frequent first), then the catalogue's."""
    seen: dict[str, int] = {}
    for s in session.state.detections():
        seen[s.obj.machine_class] = seen.get(s.obj.machine_class, 0) + 1
    ordered = sorted(seen, key=lambda c: (-seen[c], c))
    return ordered + [c for c in catalogue.classes if c not in seen]


class _KeyFilter(QObject):
    """Sends the panel's keys to it from the widgets that would otherwise swallow them."""

    def __init__(self, panel: "ReviewPanel"):
        super().__init__(panel)
        self.panel = panel

    def eventFilter(self, watched, event) -> bool:  # noqa: N802
        if event.type() != QEvent.Type.KeyPress:
            return False
        if watched is self.panel.canvas and not self.panel.isVisible():  # the map: only while reviewing
            return False
        return self.panel.handle_key(event.key(), event.modifiers())


class ReviewPanel(QgsDockWidget):
    """Emits `stateChanged(ReviewState)` after every decision, `retrainRequested()` for the button."""

    stateChanged = pyqtSignal(object)
    retrainRequested = pyqtSignal()

    def __init__(self, iface, session: ReviewSession, title: str = "", group=None, reviewed_layer=None, parent=None):
        super().__init__("SiteWatch review", parent)
        self.setObjectName("SiteWatchReviewPanel")
        self.iface = iface
        self.canvas = iface.mapCanvas()
        self.session = session
        self.group = group
        self.reviewed_layer = reviewed_layer
        self.queue: list[ObjectState] = []
        self.current_id: Optional[str] = None
        self.shown_side = "after"
        self.box_tool: Optional[OrientedBoxTool] = None
        self._box_mode = ""  # add | edit
        self._previous_tool = None
        self.form = _FORM_BASE(self)
        self.ui = FORM_CLASS()
        self.ui.setupUi(self.form)
        self.setWidget(self.form)
        self.ui.analysisLabel.setText(title or session.analysis_id)
        self.classes = relabel_classes(session, session.catalogue)
        self.band = QgsRubberBand(iface.mapCanvas(), QgsWkbTypes.GeometryType.PolygonGeometry)
        self.band.setFillColor(QColor(0, 0, 0, 0))
        self.band.setStrokeColor(QColor(0, 200, 255))
        self.band.setWidth(3)
        self._fill_choices()
        self._connect()
        self.rebuild_queue()

    # ================================================================ set-up
    def _fill_choices(self) -> None:
        ui = self.ui
        ui.sideCombo.addItem("both dates and regions", "")
        ui.sideCombo.addItem("before", "before")
        ui.sideCombo.addItem("after", "after")
        ui.sideCombo.addItem("change regions", "region")
        ui.classCombo.addItem(ALL, "")
        for name in sorted({s.class_name for s in self.session.state.objects}):
            ui.classCombo.addItem(name, name)
        ui.eventCombo.addItem(ALL, "")
        for event in ("arrived", "departed", "stayed", "moved"):
            ui.eventCombo.addItem(event, event)
        for label, status in ((ALL, ""), ("to review", "pending"), ("accepted", "accepted"), ("rejected", "rejected")):
            ui.statusCombo.addItem(label, status)
        for k, reason in enumerate(REGION_REASONS):
            ui.reasonCombo.addItem(f"{k + 1}  {reason}", reason)
        for k, name in enumerate(self.classes):
            key = str((k + 1) % 10) + "  " if k < 10 else "    "
            cls = self.session.catalogue.classes.get(name)
            ui.relabelCombo.addItem(f"{key}{name}" + (f" ({cls.name})" if cls is not None else ""), name)
        for table in (ui.queueTable, ui.countsTable):
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            table.horizontalHeader().setStretchLastSection(True)
            table.verticalHeader().setVisible(False)

    def _connect(self) -> None:
        ui = self.ui
        for combo in (ui.sideCombo, ui.classCombo, ui.eventCombo, ui.statusCombo):
            combo.currentIndexChanged.connect(self.rebuild_queue)
        ui.minScoreSpin.valueChanged.connect(self.rebuild_queue)
        ui.maxScoreSpin.valueChanged.connect(self.rebuild_queue)
        ui.queueTable.itemSelectionChanged.connect(self._on_row_selected)
        ui.acceptButton.clicked.connect(self.accept_current)
        ui.rejectButton.clicked.connect(lambda: self.reject_current())
        ui.relabelButton.clicked.connect(lambda: self.relabel_current(ui.relabelCombo.currentData()))
        ui.previousButton.clicked.connect(self.previous)
        ui.nextButton.clicked.connect(self.next)
        ui.zoomButton.clicked.connect(lambda: self.follow(zoom=True))
        ui.otherDateButton.clicked.connect(self.toggle_date)
        ui.drawButton.clicked.connect(lambda: self.start_box("add"))
        ui.editButton.clicked.connect(lambda: self.start_box("edit"))
        ui.undoButton.clicked.connect(self.undo)
        ui.redoButton.clicked.connect(self.redo)
        ui.retrainButton.clicked.connect(self.retrainRequested.emit)
        ui.noteEdit.returnPressed.connect(self.note_current)
        self._key_filter = _KeyFilter(self)
        for widget in [self.form, ui.queueTable, ui.countsTable] + [
                getattr(ui, name) for name in dir(ui) if name.endswith("Button")]:
            widget.installEventFilter(self._key_filter)
        self.canvas.installEventFilter(self._key_filter)  # review keys work with the map focused too

    # ================================================================ keys
    def handle_key(self, key, modifiers=Qt.KeyboardModifier.NoModifier) -> bool:
        """Do what a key means in review; False for keys the panel leaves alone."""
        ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
        if ctrl:
            if key == Qt.Key.Key_Z and not shift:
                self.undo()
            elif key == Qt.Key.Key_Y or (key == Qt.Key.Key_Z and shift):
                self.redo()
            else:
                return False
            return True
        actions = {
            Qt.Key.Key_A: self.accept_current, Qt.Key.Key_R: self.reject_current,
            Qt.Key.Key_N: self.next, Qt.Key.Key_Right: self.next, Qt.Key.Key_Down: self.next,
            Qt.Key.Key_P: self.previous, Qt.Key.Key_Left: self.previous, Qt.Key.Key_Up: self.previous,
            Qt.Key.Key_Z: lambda: self.follow(zoom=True), Qt.Key.Key_Space: self.toggle_date,
            Qt.Key.Key_D: self.toggle_date, Qt.Key.Key_B: lambda: self.start_box("add"),
            Qt.Key.Key_E: lambda: self.start_box("edit"),
        }
        if key in actions:
            actions[key]()
            return True
        if key in NUMBER_KEYS:
            self.number(NUMBER_KEYS.index(key))
            return True
        return False

    def number(self, index: int) -> None:
        """Number key index (0 for key 1): relabel a detection, or a region's false-alarm reason."""
        current = self.current()
        if current is None:
            return
        if current.obj.kind == "region":
            if index < len(REGION_REASONS):
                self.reject_current(REGION_REASONS[index])
        elif index < len(self.classes):
            self.relabel_current(self.classes[index])

    # ================================================================ queue
    def filters(self) -> QueueFilter:
        ui = self.ui
        return QueueFilter(side=ui.sideCombo.currentData() or "", class_name=ui.classCombo.currentData() or "",
                           event=ui.eventCombo.currentData() or "", status=ui.statusCombo.currentData() or "",
                           min_score=ui.minScoreSpin.value(), max_score=ui.maxScoreSpin.value())

    def rebuild_queue(self, *_args, keep: Optional[str] = None) -> None:
        """Fill the queue from the session's state; keep the current object (or `keep`) selected."""
        old_ids = [s.object_id for s in self.queue]
        wanted = keep or self.current_id
        self.queue = self.session.queue(self.filters())
        ids = [s.object_id for s in self.queue]
        if wanted not in ids:  # it left the queue (a filter): the one after it in the old order
            after = old_ids[old_ids.index(wanted) + 1:] if wanted in old_ids else []
            wanted = next((i for i in after if i in ids), ids[0] if ids else None)
        table = self.ui.queueTable
        table.blockSignals(True)
        table.setRowCount(len(self.queue))
        for row, s in enumerate(self.queue):
            values = (s.obj.side or "region", s.class_name, f"{s.obj.score:.2f}", s.event, s.status,
                      s.object_id.split(":", 1)[-1])  # the id within its analysis
            for col, value in enumerate(values):
                table.setItem(row, col, QTableWidgetItem(value))
        table.blockSignals(False)
        self._show_state()
        self.set_current(wanted)

    def current(self) -> Optional[ObjectState]:
        return next((s for s in self.queue if s.object_id == self.current_id), None)

    def current_row(self) -> int:
        return next((k for k, s in enumerate(self.queue) if s.object_id == self.current_id), -1)

    def set_current(self, object_id: Optional[str], follow: bool = True) -> None:
        self.current_id = object_id
        row = self.current_row()
        table = self.ui.queueTable
        table.blockSignals(True)
        if row >= 0:
            table.selectRow(row)
            table.scrollToItem(table.item(row, 0))
        else:
            table.clearSelection()
        table.blockSignals(False)
        if follow and row >= 0:
            self.follow()
        self._show_current()

    def _on_row_selected(self) -> None:
        rows = self.ui.queueTable.selectionModel().selectedRows()
        if rows and 0 <= rows[0].row() < len(self.queue):
            self.set_current(self.queue[rows[0].row()].object_id)

    def next(self) -> None:  # noqa: A003 (the key's name)
        row = self.current_row()
        if self.queue and row + 1 < len(self.queue):
            self.set_current(self.queue[row + 1].object_id)

    def previous(self) -> None:
        row = self.current_row()
        if row > 0:
            self.set_current(self.queue[row - 1].object_id)

    # ================================================================ decisions
    def _decide(self, work, advance: bool = True) -> bool:
        """Run one decision; on success show the new state and go to the next object."""
        current = self.current_id
        row = self.current_row()
        try:
            decision = work()
        except ReviewStoreError as exc:
            self.ui.messageLabel.setText(f"Not saved: {exc}")
            self.iface.messageBar().pushMessage(MESSAGE_TITLE, str(exc), Qgis.MessageLevel.Critical, 0)
            return False
        if decision is None:
            return False
        self.ui.messageLabel.setText(f"Saved: {decision.action} {decision.new_class or ''} ({decision.reviewer})")
        if self.session.outputs_problem:
            self.ui.messageLabel.setText(self.session.outputs_problem)
            self.iface.messageBar().pushMessage(MESSAGE_TITLE, self.session.outputs_problem, Qgis.MessageLevel.Warning, 8)
        following = None
        if advance and current is not None and 0 <= row + 1 < len(self.queue):
            following = self.queue[row + 1].object_id
        self.rebuild_queue(keep=following or current)
        self.stateChanged.emit(self.session.state)
        return True

    def accept_current(self) -> bool:
        s = self.current()
        return s is not None and self._decide(lambda: self.session.accept(s.object_id))

    def reject_current(self, reason: Optional[str] = None) -> bool:
        s = self.current()
        if s is None:
            return False
        if s.obj.kind == "region" and reason is None:
            reason = self.ui.reasonCombo.currentData() or ""
        return self._decide(lambda: self.session.reject(s.object_id, reason or ""))

    def relabel_current(self, class_name: str) -> bool:
        s = self.current()
        if s is None or not class_name or s.obj.kind == "region":
            return False
        return self._decide(lambda: self.session.relabel(s.object_id, class_name))

    def note_current(self) -> bool:
        """Keep the note typed for the current object; the queue gets the keys back."""
        s = self.current()
        text = self.ui.noteEdit.text().strip()
        if s is None or not text:
            return False
        done = self._decide(lambda: self.session.note(s.object_id, text), advance=False)
        if done:
            self.ui.noteEdit.clear()
            self.ui.queueTable.setFocus()
        return done

    def undo(self) -> bool:
        return self._decide(self.session.undo, advance=False)

    def redo(self) -> bool:
        return self._decide(self.session.redo, advance=False)

    # ================================================================ boxes
    def start_box(self, mode: str) -> None:
        """Three clicks on the map: add a missed object on the date shown, or redraw the current box."""
        if mode == "edit" and (self.current() is None or self.current().obj.kind == "region"):
            return
        canvas = self.iface.mapCanvas()
        if self.box_tool is None:
            self.box_tool = OrientedBoxTool(canvas, self.handle_key)
            self.box_tool.boxDrawn.connect(self.box_drawn)
            self.box_tool.cancelled.connect(self._end_box)
        self._box_mode = mode
        self._previous_tool = canvas.mapTool()
        canvas.setMapTool(self.box_tool)
        what = "the missed object's box" if mode == "add" else "the new box"
        self.ui.messageLabel.setText(f"Draw {what}: click both ends of one side, then the width. Esc cancels.")

    def _end_box(self) -> None:
        canvas = self.iface.mapCanvas()
        if self.box_tool is not None and canvas.mapTool() is self.box_tool:
            if self._previous_tool is not None:
                canvas.setMapTool(self._previous_tool)
            else:
                canvas.unsetMapTool(self.box_tool)
        self._box_mode = ""

    def box_drawn(self, geometry: QgsGeometry) -> bool:
        """A box in the canvas CRS: an added object (class: the relabel choice) or the current one redrawn."""
        mode = self._box_mode or "add"
        self._end_box()
        geom = QgsGeometry(geometry)
        crs = self._analysis_crs()
        if crs.isValid():
            geom.transform(QgsCoordinateTransform(self.iface.mapCanvas().mapSettings().destinationCrs(), crs,
                                                  QgsProject.instance()))
        wkt = geom.asWkt(3)
        if mode == "edit":
            s = self.current()
            return s is not None and self._decide(lambda: self.session.edit_geometry(s.object_id, wkt), advance=False)
        class_name = self.ui.relabelCombo.currentData() or (self.classes[0] if self.classes else "object")
        before = {s.object_id for s in self.session.state.objects}

        def add():
            return self.session.add(self.shown_side, class_name, wkt)

        if not self._decide(add, advance=False):
            return False
        new = [s.object_id for s in self.session.state.objects if s.object_id not in before]
        if new:
            self.rebuild_queue(keep=new[0])
        return True

    # ================================================================ map
    def _analysis_crs(self) -> QgsCoordinateReferenceSystem:
        wkt = next((s.obj.crs_wkt for s in self.session.state.objects if s.obj.crs_wkt), "")
        return QgsCoordinateReferenceSystem.fromWkt(wkt) if wkt else QgsCoordinateReferenceSystem()

    def follow(self, zoom: bool = False) -> None:
        """Outline the current object, show its date, centre the map on it (zoom: close around it)."""
        s = self.current()
        canvas = self.iface.mapCanvas()
        if self.band is None:
            return
        self.band.reset(QgsWkbTypes.GeometryType.PolygonGeometry)
        if s is None or not s.wkt:
            return
        crs = QgsCoordinateReferenceSystem.fromWkt(s.obj.crs_wkt) if s.obj.crs_wkt else QgsCoordinateReferenceSystem()
        geom = QgsGeometry.fromWkt(s.wkt)
        self.band.setToGeometry(geom, crs if crs.isValid() else None)
        if s.obj.side in ("before", "after"):
            self.show_side(s.obj.side)
        if crs.isValid():
            geom.transform(QgsCoordinateTransform(crs, canvas.mapSettings().destinationCrs(), QgsProject.instance()))
        box = geom.boundingBox()
        if zoom or canvas.extent().isEmpty() or canvas.extent().width() <= 0:
            half = max(box.width(), box.height(), MIN_VIEW_M / 2.0)
            if canvas.mapSettings().destinationCrs().isGeographic():
                half = max(box.width(), box.height(), 0.0003)
            c = box.center()
            canvas.setExtent(QgsRectangle(c.x() - half, c.y() - half, c.x() + half, c.y() + half))
        else:
            canvas.setCenter(box.center())
        canvas.refresh()

    def show_side(self, side: str) -> None:
        self.shown_side = side
        if self.group is not None:
            try:
                set_capture_visible(self.group, side)
            except RuntimeError:  # the group was removed
                self.group = None

    def toggle_date(self) -> None:
        self.show_side("before" if self.shown_side == "after" else "after")
        self.iface.mapCanvas().refresh()
        self._show_current()

    # ================================================================ state
    def _show_current(self) -> None:
        s = self.current()
        if s is None:
            self.ui.currentLabel.setText("Nothing to review with these filters.")
            return
        history = self.session.store.history(s.object_id)
        last = history[-1] if history else None
        who = f"; last: {last.action} by {last.reviewer}" if last is not None and last.action != "detected" else ""
        reason = f" ({s.reason})" if s.reason else ""
        reason += f" · note: {s.note}" if s.note else ""
        self.ui.currentLabel.setText(
            f"{self.current_row() + 1}/{len(self.queue)} · {s.obj.side or 'change region'} · {s.class_name} · "
            f"score {s.obj.score:.2f} · {s.event or '-'} · {s.status}{reason}{who} · showing {self.shown_side}")

    def _show_state(self) -> None:
        state = self.session.state
        self.ui.progressLabel.setText(state.progress_text())
        detections = state.detections()
        table = self.ui.countsTable
        table.setRowCount(len(state.counts))
        for row, c in enumerate(state.counts):
            mine = [s for s in detections if s.class_name == c.class_name]
            reviewed = f"{sum(1 for s in mine if s.reviewed)} of {len(mine)}"
            values = (c.class_name, c.before, c.after, c.arrived, c.departed, c.stayed, c.moved, reviewed)
            for col, value in enumerate(values):
                table.setItem(row, col, QTableWidgetItem(str(value)))
        if self.reviewed_layer is not None:
            from ...layers.review_layers import refresh_layer

            refresh_layer(self.reviewed_layer)

    def shutdown(self) -> None:
        """Remove the outline, the box tool and the key filter from the map."""
        self.canvas.removeEventFilter(self._key_filter)
        self._end_box()
        if self.box_tool is not None:
            self.box_tool.clean()
            self.box_tool = None
        if self.band is not None:
            self.band.reset()
            self.iface.mapCanvas().scene().removeItem(self.band)
            self.band = None
