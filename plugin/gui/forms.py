"""Qt Designer forms from ui/: loaded at run time (no generated code), on Qt5 and Qt6.

A form's QGIS widgets are declared in it as custom widgets with header `qgis.gui`; SiteWatch's
own widgets with a relative header (`.site_selector`), resolved against this package, so the
plugin works whatever its folder is called. On Qt 6 the enum values get their scope first
(see form_enums).
"""
from __future__ import annotations

import io

from qgis.PyQt import QtCore, QtWidgets, uic

from ..resources import UI
from .form_enums import scoped_enum_values

QT6 = QtCore.QT_VERSION >= 0x060000


def form_path(name: str) -> str:
    """The path of ui/<name>.ui."""
    return str(UI / f"{name}.ui")


def load_form(name: str, widget) -> None:
    """Build ui/<name>.ui onto `widget` (its children become attributes named by objectName)."""
    if QT6:
        with open(form_path(name), encoding="utf-8") as handle:
            text = scoped_enum_values(handle.read(), QtCore, QtWidgets)
        uic.loadUi(io.BytesIO(text.encode("utf-8")), widget, package=__package__)
    else:
        uic.loadUi(form_path(name), widget, package=__package__)
