"""Qt Designer forms from ui/: loaded at run time (no generated code), on Qt5 and Qt6.

A form's QGIS widgets are declared in it as custom widgets with header `qgis.gui`; SiteWatch's
own widgets with a relative header (`.site_selector`), resolved against this package, so the
plugin works whatever its folder is called.
"""
from __future__ import annotations

from qgis.PyQt import uic

from ..resources import UI


def form_path(name: str) -> str:
    """The path of ui/<name>.ui."""
    return str(UI / f"{name}.ui")


def load_form(name: str, widget) -> None:
    """Build ui/<name>.ui onto `widget` (its children become attributes named by objectName)."""
    uic.loadUi(form_path(name), widget, package=__package__)
