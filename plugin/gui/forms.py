"""Qt Designer forms from ui/: loaded at run time (no generated code), on Qt5 and Qt6.

A form's QGIS widgets are declared in it as custom widgets with header `qgis.gui`; SiteWatch's
own widgets with a relative header (`.site_selector`), resolved against this package, so the
plugin works whatever its folder is called. The forms name enum values as Qt 5's Designer
writes them (`QFrame::NoFrame`); on Qt 6 they are given their enum's scope first
(`QFrame::Shape::NoFrame`), as Qt 6's Designer writes them.
"""
from __future__ import annotations

import io
import re

from qgis.PyQt import QtCore, QtWidgets, uic

from ..resources import UI

QT6 = QtCore.QT_VERSION >= 0x060000
_ENUM_VALUE = re.compile(r"<(enum|set)>([^<]+)</\1>")


def form_path(name: str) -> str:
    """The path of ui/<name>.ui."""
    return str(UI / f"{name}.ui")


def load_form(name: str, widget) -> None:
    """Build ui/<name>.ui onto `widget` (its children become attributes named by objectName)."""
    if QT6:
        with open(form_path(name), encoding="utf-8") as handle:
            text = scoped_enum_values(handle.read())
        uic.loadUi(io.BytesIO(text.encode("utf-8")), widget, package=__package__)
    else:
        uic.loadUi(form_path(name), widget, package=__package__)


def scoped_enum_values(ui_text: str) -> str:
    """The form with every `Class::Value` enum or flag value written `Class::Enum::Value`."""
    def scope(match: re.Match) -> str:
        values = "|".join(_scoped(value.strip()) for value in match.group(2).split("|"))
        return f"<{match.group(1)}>{values}</{match.group(1)}>"

    return _ENUM_VALUE.sub(scope, ui_text)


def _scoped(value: str) -> str:
    parts = value.split("::")
    if len(parts) != 2:
        return value
    owner_name, member = parts
    owner = QtCore.Qt if owner_name == "Qt" else getattr(QtWidgets, owner_name, None) or getattr(QtCore, owner_name, None)
    for enum_name in dir(owner) if owner is not None else ():
        enum_type = getattr(owner, enum_name, None)
        if enum_name[:1].isupper() and isinstance(enum_type, type) and isinstance(getattr(enum_type, member, None), enum_type):
            return f"{owner_name}::{enum_name}::{member}"
    return value
