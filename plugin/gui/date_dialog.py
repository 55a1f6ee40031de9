"""A small dialog to enter a capture date with a calendar (ui/date_dialog.ui)."""
from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Optional

from qgis.PyQt.QtCore import QDateTime, QTimeZone
from qgis.PyQt.QtWidgets import QDialog

from .forms import load_form


class CaptureDateDialog(QDialog):
    def __init__(self, layer_name: str, initial: Optional[datetime] = None, parent=None):
        super().__init__(parent)
        load_form("date_dialog", self)
        self.question_label.setText(f"When was <b>{escape(layer_name)}</b> captured (UTC)?")
        if initial is not None:
            self.edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(initial.timestamp()), QTimeZone.utc()))
        else:
            self.edit.setDateTime(QDateTime.currentDateTimeUtc())

    def iso(self) -> str:
        value = self.edit.dateTime().toUTC()
        text = value.toString("yyyy-MM-ddTHH:mm:ss")
        return text[:10] if text.endswith("T00:00:00") else text + "Z"
