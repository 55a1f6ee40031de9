"""SiteWatch's Python logging records (warnings and up) in the QGIS message log, tab "SiteWatch".

The core logs through `logging` (it knows nothing of QGIS); the plugin adds one handler to
its package's logger in initGui/initProcessing and removes it in unload.
"""
from __future__ import annotations

import logging

from qgis.core import Qgis, QgsMessageLog

TAG = "SiteWatch"


class MessageLogHandler(logging.Handler):
    """Forwards records to QgsMessageLog (thread-safe: workers of a QgsTask log too)."""

    def __init__(self, level: int = logging.WARNING):
        super().__init__(level)
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if record.levelno >= logging.ERROR:
                level = Qgis.MessageLevel.Critical
            elif record.levelno >= logging.WARNING:
                level = Qgis.MessageLevel.Warning
            else:
                level = Qgis.MessageLevel.Info
            QgsMessageLog.logMessage(self.format(record), TAG, level)
        except Exception:  # noqa: BLE001 (logging must never raise into the caller)
            self.handleError(record)


def add_message_log_handler(logger_name: str) -> MessageLogHandler:
    """A new handler on the named logger (SiteWatch's package logger)."""
    handler = MessageLogHandler()
    logging.getLogger(logger_name).addHandler(handler)
    return handler


def remove_message_log_handler(logger_name: str, handler: MessageLogHandler) -> None:
    logging.getLogger(logger_name).removeHandler(handler)
    handler.close()
