"""The current site's timeline in the dock: counts per class over every analysed capture date
(the chart) and the change area of each analysed date pair; double-click a pair to open it."""
from __future__ import annotations

from qgis.PyQt.QtCore import QByteArray, Qt, pyqtSignal
from qgis.PyQt.QtSvg import QSvgWidget
from qgis.PyQt.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..core.timeline import timeline_from_analyses
from ..core.timeline_chart import HEIGHT, WIDTH, timeline_svg


class SiteTimelineWidget(QWidget):
    openRequested = pyqtSignal(str)  # analysis id

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel("Analyse the site on two or more dates to see its timeline.", self)
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.chart = QSvgWidget(self)
        self.chart.setToolTip("Objects counted per class on every analysed capture date of this site.")
        self.chart.setMinimumHeight(160)
        layout.addWidget(self.chart)
        self.pairs = QTableWidget(0, 3, self)
        self.pairs.setHorizontalHeaderLabels(["dates", "change (m²)", "objects"])
        self.pairs.setToolTip("Every analysed date pair; double-click one to open that analysis.")
        self.pairs.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.pairs.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.pairs.verticalHeader().setVisible(False)
        self.pairs.horizontalHeader().setStretchLastSection(True)
        self.pairs.cellDoubleClicked.connect(self._open)
        layout.addWidget(self.pairs)
        self.set_records("", [])

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return int(width * HEIGHT / WIDTH)

    def set_records(self, site_name: str, records) -> None:
        """Show the timeline of these analyses (AnalysisRecord list of the site's workspace)."""
        timeline, pairs = timeline_from_analyses(site_name, records)
        has_chart = len(timeline.captures) >= 2
        self.note.setVisible(not has_chart)
        self.chart.setVisible(has_chart)
        if has_chart:
            self.chart.load(QByteArray(timeline_svg(timeline, title=f"{site_name}: objects per capture date")
                                       .encode("utf-8")))
            self.chart.setMinimumHeight(max(160, self.heightForWidth(max(self.width(), 320))))
        self.pairs.setRowCount(len(pairs))
        for row, pair in enumerate(pairs):
            cells = [f"{pair.before_date} → {pair.after_date}",
                     "—" if pair.changed_area_m2 is None else f"{pair.changed_area_m2:,.0f}",
                     f"{pair.objects_before} → {pair.objects_after}"]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, pair.analysis_id)
                self.pairs.setItem(row, col, item)
        self.pairs.resizeColumnsToContents()

    def _open(self, row: int, _column: int) -> None:
        item = self.pairs.item(row, 0)
        if item is not None:
            self.openRequested.emit(item.data(Qt.ItemDataRole.UserRole))

