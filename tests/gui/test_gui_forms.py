"""The Designer forms: each loads, and names its enum values in a form Qt 6's loader reads too."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORMS = sorted(p.stem for p in (ROOT / "ui").glob("*.ui"))


def test_enum_values_get_their_scope_for_qt6():
    from sitewatch.plugin.gui.forms import scoped_enum_values

    text = ("<enum>QFrame::NoFrame</enum><enum>Qt::ScrollBarAlwaysOff</enum><enum>Qt::UTC</enum>"
            "<set>QDialogButtonBox::Cancel|QDialogButtonBox::Ok</set>"
            "<enum>QComboBox::AdjustToMinimumContentsLengthWithIcon</enum><enum>QFormLayout::WrapLongRows</enum>")
    assert scoped_enum_values(text) == (
        "<enum>QFrame::Shape::NoFrame</enum><enum>Qt::ScrollBarPolicy::ScrollBarAlwaysOff</enum>"
        "<enum>Qt::TimeSpec::UTC</enum><set>QDialogButtonBox::StandardButton::Cancel|QDialogButtonBox::StandardButton::Ok</set>"
        "<enum>QComboBox::SizeAdjustPolicy::AdjustToMinimumContentsLengthWithIcon</enum>"
        "<enum>QFormLayout::RowWrapPolicy::WrapLongRows</enum>")


@pytest.mark.parametrize("name", FORMS)
def test_every_enum_value_of_every_form_is_scoped(name):
    import re

    from sitewatch.plugin.gui.forms import form_path, scoped_enum_values

    text = scoped_enum_values(Path(form_path(name)).read_text(encoding="utf-8"))
    values = [v for m in re.finditer(r"<(enum|set)>([^<]+)</\1>", text) for v in m.group(2).split("|")]
    assert values and [v for v in values if v.count("::") != 2] == []


def test_dialogs_build_from_their_forms(qgis_app):
    """The forms in ui/ and two dialogs whose widgets come from theirs."""
    from sitewatch.plugin.gui.date_dialog import CaptureDateDialog
    from sitewatch.plugin.gui.packages import PackagesDialog

    assert FORMS == ["capture_picker", "change_options", "date_dialog", "dock", "equipment_options", "left_out",
                     "packages_dialog", "site_selector"]
    dialog = CaptureDateDialog("scan")
    assert dialog.edit.objectName() == "edit" and dialog.buttons.objectName() == "buttons"
    assert PackagesDialog().table.columnCount() == 3
