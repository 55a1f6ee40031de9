"""Designer forms name enum values as Qt 5's Designer writes them (`QFrame::NoFrame`); Qt 6's
writes them with their enum's scope (`QFrame::Shape::NoFrame`). scoped_enum_values turns the
first into the second. No Qt import here: the Qt modules are given (tests use it with PyQt6)."""
from __future__ import annotations

import re
from types import ModuleType

_ENUM_VALUE = re.compile(r"<(enum|set)>([^<]+)</\1>")


def scoped_enum_values(ui_text: str, qt_core: ModuleType, qt_widgets: ModuleType) -> str:
    """The form with every `Class::Value` enum or flag value written `Class::Enum::Value`."""
    def scope(match: re.Match) -> str:
        values = "|".join(_scoped(value.strip(), qt_core, qt_widgets) for value in match.group(2).split("|"))
        return f"<{match.group(1)}>{values}</{match.group(1)}>"

    return _ENUM_VALUE.sub(scope, ui_text)


def enum_values(ui_text: str) -> list[str]:
    """Every enum and flag value a form names."""
    return [value for match in _ENUM_VALUE.finditer(ui_text) for value in match.group(2).split("|")]


def _scoped(value: str, qt_core: ModuleType, qt_widgets: ModuleType) -> str:
    parts = value.split("::")
    if len(parts) != 2:
        return value
    owner_name, member = parts
    owner = qt_core.Qt if owner_name == "Qt" else getattr(qt_widgets, owner_name, None) or getattr(qt_core, owner_name, None)
    for enum_name in dir(owner) if owner is not None else ():
        enum_type = getattr(owner, enum_name, None)
        if enum_name[:1].isupper() and isinstance(enum_type, type) and isinstance(getattr(enum_type, member, None), enum_type):
            return f"{owner_name}::{enum_name}::{member}"
    return value
