"""The Designer forms: each loads on Qt 5 (this QGIS) and with PyQt6's loader (Qt 6)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORMS = sorted(p.stem for p in (ROOT / "ui").glob("*.ui"))


def test_enum_values_get_their_scope_for_qt6():
    from qgis.PyQt import QtCore, QtWidgets

    from sitewatch.plugin.gui.form_enums import scoped_enum_values

    text = ("<enum>QFrame::NoFrame</enum><enum>Qt::ScrollBarAlwaysOff</enum><enum>Qt::UTC</enum>"
            "<set>QDialogButtonBox::Cancel|QDialogButtonBox::Ok</set>"
            "<enum>QComboBox::AdjustToMinimumContentsLengthWithIcon</enum><enum>QFormLayout::WrapLongRows</enum>")
    assert scoped_enum_values(text, QtCore, QtWidgets) == (
        "<enum>QFrame::Shape::NoFrame</enum><enum>Qt::ScrollBarPolicy::ScrollBarAlwaysOff</enum>"
        "<enum>Qt::TimeSpec::UTC</enum><set>QDialogButtonBox::StandardButton::Cancel|QDialogButtonBox::StandardButton::Ok</set>"
        "<enum>QComboBox::SizeAdjustPolicy::AdjustToMinimumContentsLengthWithIcon</enum>"
        "<enum>QFormLayout::RowWrapPolicy::WrapLongRows</enum>")


def test_every_form_loads_with_pyqt6():
    """In a process of its own (PyQt6 and QGIS's PyQt5 cannot share one): see qt6_forms.py."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, str(Path(__file__).with_name("qt6_forms.py"))], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert proc.stdout.split() == [word for form in FORMS for word in ("OK", form)]


def test_dialogs_build_from_their_forms(qgis_app):
    """The forms in ui/, and two dialogs whose widgets come from theirs."""
    from sitewatch.plugin.gui.date_dialog import CaptureDateDialog
    from sitewatch.plugin.gui.packages import PackagesDialog

    assert FORMS == ["capture_picker", "change_options", "date_dialog", "dock", "equipment_options", "left_out",
                     "packages_dialog", "review_panel", "site_selector"]
    dialog = CaptureDateDialog("scan")
    assert dialog.edit.objectName() == "edit" and dialog.buttons.objectName() == "buttons"
    assert PackagesDialog().table.columnCount() == 3
