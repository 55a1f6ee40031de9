"""Results of the shown analysis (counts per class and events) and the site's history."""
from __future__ import annotations

from typing import Optional

from qgis.PyQt.QtCore import Qt, pyqtSignal
from qgis.PyQt.QtGui import QBrush, QColor
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.equipment.matching import ClassCount

COLUMNS = ("Class", "Before", "After", "Δ", "Arrived", "Departed", "Stayed", "Moved")
# short headers keep the eight columns inside a 300 px dock; the full names are in the tooltips
HEADERS = ("Class", "Bef.", "Aft.", "Δ", "+", "−", "=", "↔")
COLUMN_TIPS = (
    "Equipment class (click a row to zoom the map to these objects)",
    "Before: objects counted on the Before date",
    "After: objects counted on the After date",
    "Δ: After minus Before",
    "Arrived (+): on the After date only (new)",
    "Departed (−): on the Before date only (gone)",
    "Stayed (=): on both dates at the same place",
    "Moved (↔): on both dates, at another place within the site",
)
EVENT_COLUMNS = {4: "arrived", 5: "departed", 6: "stayed", 7: "moved"}
EVENT_COLOURS = {"arrived": "#1aaf3d", "departed": "#e0201b", "stayed": "#2b83f6", "moved": "#ff9f1c"}
REGIONS_ROW_KEY = "__change_regions__"


class ResultsTable(QWidget):
    """Counts per class; clicking a row (or an event cell) asks to zoom to those objects."""

    zoomRequested = pyqtSignal(object, object)  # class name (or REGIONS_ROW_KEY, or None), event or None

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.title_label = QLabel("No analysis shown yet.", self)
        self.title_label.setWordWrap(True)
        self.title_label.setToolTip("The analysis whose results are listed below.")
        layout.addWidget(self.title_label)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(HEADERS)
        for i, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
            if i in EVENT_COLUMNS:
                self.table.horizontalHeaderItem(i).setForeground(QBrush(QColor(EVENT_COLOURS[EVENT_COLUMNS[i]])))
        self.table.setToolTip("Counts per class. Click a row to zoom to its objects; click an event count to zoom to those only.")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(16)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for i in range(1, len(COLUMNS)):
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.table)
        self.summary_label = QLabel(self)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary_label.setToolTip("The analysis summary (select the text to copy it).")
        layout.addWidget(self.summary_label)
        self.table.cellClicked.connect(self._clicked)

    def clear(self) -> None:
        self.table.setRowCount(0)
        self._fit_height()
        self.title_label.setText("No analysis shown yet.")
        self.summary_label.setText("")

    def set_results(self, title: str, rows: list[ClassCount], regions: Optional[tuple[int, float]], summary: list[str]) -> None:
        """Fill the table: one row per class, then a row for the change regions when present."""
        self.title_label.setText(f"<b>{title}</b>")
        self.table.setRowCount(0)
        for row in rows:
            values = (row.class_name, row.before, row.after, row.delta, row.arrived, row.departed, row.stayed, row.moved)
            self._add_row(values, row.class_name)
        if rows:
            total = ClassCount("All classes")
            for name in ("before", "after", "arrived", "departed", "stayed", "moved"):
                setattr(total, name, sum(getattr(r, name) for r in rows))
            values = ("All classes", total.before, total.after, total.delta, total.arrived, total.departed, total.stayed, total.moved)
            self._add_row(values, None, bold=True)
        if regions is not None:
            count, area = regions
            r = self.table.rowCount()
            self.table.insertRow(r)
            item = QTableWidgetItem(f"Change regions: {count}, {area:,.0f} m²")
            item.setData(Qt.ItemDataRole.UserRole, REGIONS_ROW_KEY)
            item.setToolTip("Areas that changed between the dates; click to zoom to them.")
            self.table.setItem(r, 0, item)
            self.table.setSpan(r, 0, 1, len(COLUMNS))
        self.summary_label.setText("\n".join(summary))
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its rows (no empty band, no inner scrolling for a handful of classes)."""
        rows = sum(self.table.rowHeight(r) for r in range(min(self.table.rowCount(), 12)))
        frame = 2 * self.table.frameWidth()
        header = self.table.horizontalHeader().height() or self.table.horizontalHeader().sizeHint().height()
        self.table.setFixedHeight(max(60, header + rows + frame + 2))

    def _add_row(self, values, key, bold: bool = False) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        for c, value in enumerate(values):
            text = f"{value:+d}" if c == 3 and isinstance(value, int) else str(value)
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, key)
            if c == 0:
                item.setToolTip(text)
            if c > 0:
                item.setTextAlignment(int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter))
            if c in EVENT_COLUMNS and isinstance(value, int) and value > 0:
                item.setForeground(QBrush(QColor(EVENT_COLOURS[EVENT_COLUMNS[c]])))
                item.setToolTip(f"{value} {EVENT_COLUMNS[c]}: click to zoom to them")
            if bold:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(r, c, item)

    def _clicked(self, row: int, column: int) -> None:
        item = self.table.item(row, 0)
        if item is None:
            return
        key = item.data(Qt.ItemDataRole.UserRole)
        event = EVENT_COLUMNS.get(column) if key != REGIONS_ROW_KEY else None
        self.zoomRequested.emit(key, event)

    def click_row(self, row: int, column: int = 0) -> None:
        """Same as a user click (used by keyboard navigation and tests)."""
        self.table.setCurrentCell(row, column)
        self._clicked(row, column)


class HistoryList(QWidget):
    """The site's previous analyses; Open re-adds an analysis's layers."""

    openRequested = pyqtSignal(str)  # analysis id

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.list = QListWidget(self)
        self.list.setToolTip("Earlier analyses of this site, newest first. Double-click one to show its layers and results again.")
        self.list.setMinimumHeight(60)
        self.list.setWordWrap(True)  # long titles wrap inside a narrow dock instead of scrolling sideways
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.list)
        row = QHBoxLayout()
        self.open_button = QPushButton("Open", self)
        self.open_button.setToolTip("Add the selected analysis's layers to the map and list its results.")
        row.addStretch(1)
        row.addWidget(self.open_button)
        layout.addLayout(row)
        self.open_button.clicked.connect(self._open)
        self.list.itemDoubleClicked.connect(lambda _item: self._open())
        self.list.currentRowChanged.connect(lambda _r: self.open_button.setEnabled(self.list.currentItem() is not None))
        self.open_button.setEnabled(False)

    def set_records(self, records) -> None:
        self.list.clear()
        for record in records:
            item = QListWidgetItem(record.label)
            item.setData(Qt.ItemDataRole.UserRole, record.id)
            item.setToolTip("\n".join([record.title, *record.summary, record.gpkg_path]))
            self.list.addItem(item)
        self.open_button.setEnabled(False)

    def _open(self, *_args) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.openRequested.emit(item.data(Qt.ItemDataRole.UserRole))
