"""A small dialog to enter a capture date (with a calendar)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from qgis.PyQt.QtCore import QDateTime, Qt, QTimeZone
from qgis.PyQt.QtWidgets import QDateTimeEdit, QDialog, QDialogButtonBox, QLabel, QVBoxLayout


class CaptureDateDialog(QDialog):
    def __init__(self, layer_name: str, initial: Optional[datetime] = None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Capture date")
        layout = QVBoxLayout(self)
        label = QLabel(f"When was <b>{layer_name}</b> captured (UTC)?", self)
        label.setWordWrap(True)
        layout.addWidget(label)
        self.edit = QDateTimeEdit(self)
        self.edit.setCalendarPopup(True)
        self.edit.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.edit.setTimeSpec(Qt.TimeSpec.UTC)
        self.edit.setToolTip("The acquisition date and time in UTC (the time may stay 00:00 when unknown).")
        if initial is not None:
            self.edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(initial.timestamp()), QTimeZone.utc()))
        else:
            self.edit.setDateTime(QDateTime.currentDateTimeUtc())
        layout.addWidget(self.edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def iso(self) -> str:
        value = self.edit.dateTime().toUTC()
        text = value.toString("yyyy-MM-ddTHH:mm:ss")
        return text[:10] if text.endswith("T00:00:00") else text + "Z"
