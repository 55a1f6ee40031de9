"""The current site's timeline in the dock: counts per class over every analysed capture date
(the chart) and the change area of each analysed date pair; double-click a pair to open it."""
from __future__ import annotations

import logging
from pathlib import Path

from qgis.PyQt.QtCore import QByteArray, Qt, QUrl, pyqtSignal
from qgis.PyQt.QtGui import QDesktopServices
from qgis.PyQt.QtSvg import QSvgWidget
from qgis.PyQt.QtWidgets import (
    QApplication, QFileDialog, QHBoxLayout, QLabel, QMessageBox, QPushButton, QTableWidget, QTableWidgetItem,
    QVBoxLayout, QWidget,
)

from ..core.errors import SiteWatchError
from ..core.timeline import timeline_from_analyses
from ..core.timeline_chart import HEIGHT, WIDTH, timeline_svg

LOG = logging.getLogger(__name__)


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
        row = QHBoxLayout()
        row.addStretch(1)
        self.report_button = QPushButton("Write report…", self)
        self.report_button.setToolTip("Write the selected analysis as a report to hand on: an HTML page with the PDF "
                                      "beside it (maps, counts, events, this timeline, method and parameters).")
        self.report_button.clicked.connect(self._ask_report)
        row.addWidget(self.report_button)
        layout.addLayout(row)
        self.pairs.itemSelectionChanged.connect(
            lambda: self.report_button.setEnabled(self._selected_id() is not None))
        self._folders: dict[str, str] = {}
        self._site_name = ""
        self._timeline = None
        self.set_records("", [])

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return int(width * HEIGHT / WIDTH)

    def set_records(self, site_name: str, records) -> None:
        """Show the timeline of these analyses (AnalysisRecord list of the site's workspace)."""
        try:
            timeline, pairs = timeline_from_analyses(site_name, records)
        except Exception as exc:  # noqa: BLE001 (a slot must not raise: the panel shows an empty timeline)
            LOG.warning("The timeline of %s cannot be shown: %s", site_name, exc)
            timeline, pairs = timeline_from_analyses(site_name, [])
        self._site_name, self._timeline = site_name, timeline
        self._folders = {r.id: str(Path(r.gpkg_path).parent) for r in records if r.gpkg_path}
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
        self.report_button.setEnabled(self._selected_id() is not None)

    def _selected_id(self):
        rows = {index.row() for index in self.pairs.selectedIndexes()}
        item = self.pairs.item(min(rows), 0) if rows else None
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _ask_report(self) -> None:
        analysis_id = self._selected_id()
        if analysis_id is None:
            return
        default = str(Path(self._folders.get(analysis_id, str(Path.home()))) / "report.html")
        path, _ = QFileDialog.getSaveFileName(self, "Write the report", default, "HTML (*.html)")
        if not path:
            return
        try:
            files = self.write_report(analysis_id, path)
        except SiteWatchError as exc:
            QMessageBox.warning(self, "SiteWatch", f"The report could not be written: {exc}")
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(files.html))

    def write_report(self, analysis_id: str, html_path: str):
        """Write the report of one analysis of the list (HTML and the PDF beside it); ReportFiles."""
        from ..core.errors import InputError
        from ..report.report import write_report
        from ..report.saved import saved_result

        folder = self._folders.get(analysis_id)
        if folder is None:
            raise InputError("This analysis is not in the site's history.")
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)  # the print layout renders here (a few s)
        try:
            timeline = self._timeline if self._timeline is not None and len(self._timeline.captures) > 2 else None
            return write_report(saved_result(folder), html_path, timeline=timeline)
        finally:
            QApplication.restoreOverrideCursor()

    def _open(self, row: int, _column: int) -> None:
        item = self.pairs.item(row, 0)
        if item is not None:
            self.openRequested.emit(item.data(Qt.ItemDataRole.UserRole))

