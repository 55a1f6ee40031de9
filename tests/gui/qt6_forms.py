"""Loads every ui/*.ui with PyQt6's uic (run in a process of its own: Qt 5 and Qt 6 cannot share
one), after the Qt 6 enum scoping of plugin/gui/form_enums.py. QGIS is not built for Qt 6 here,
so QGIS's and SiteWatch's own widgets stand in as the Qt classes they extend, without the
properties only they have. Prints `OK <form>` or `FAIL <form>: <why>`; exits 1 on a failure."""
from __future__ import annotations

import importlib.util
import io
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from PyQt6 import QtCore, QtWidgets, uic

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("form_enums", ROOT / "plugin" / "gui" / "form_enums.py")
form_enums = importlib.util.module_from_spec(spec)
spec.loader.exec_module(form_enums)


def qt_stand_ins(ui_text: str) -> str:
    """The form with its custom widgets replaced by the Qt classes they extend."""
    root = ET.fromstring(ui_text)
    extends = {cw.findtext("class"): cw.findtext("extends") for cw in root.iter("customwidget")}
    for custom in root.findall("customwidgets"):
        root.remove(custom)
    for widget in root.iter("widget"):
        name = widget.get("class")
        while name in extends:
            name = extends[name]
        if name != widget.get("class"):
            widget.set("class", name)
            base = getattr(QtWidgets, name)
            for prop in widget.findall("property"):
                setter = "set" + prop.get("name")[:1].upper() + prop.get("name")[1:]
                if not hasattr(base, setter):
                    widget.remove(prop)
    return ET.tostring(root, encoding="unicode")


def main() -> int:
    app = QtWidgets.QApplication([])  # noqa: F841 (widgets need it)
    failures = 0
    for path in sorted((ROOT / "ui").glob("*.ui")):
        text = form_enums.scoped_enum_values(path.read_text(encoding="utf-8"), QtCore, QtWidgets)
        unscoped = [v for v in form_enums.enum_values(text) if v.count("::") != 2]
        text = qt_stand_ins(text)
        top = ET.fromstring(text).find("widget").get("class")
        try:
            if unscoped:
                raise ValueError(f"enum values left unscoped: {unscoped}")
            uic.loadUi(io.BytesIO(text.encode("utf-8")), getattr(QtWidgets, top)())
            print(f"OK {path.stem}")
        except Exception as exc:  # noqa: BLE001 (reported per form)
            failures += 1
            print(f"FAIL {path.stem}: {type(exc).__name__}: {exc}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
