"""Paths of files shipped in resources/ (icons are loaded from files, never a compiled .qrc)."""
from __future__ import annotations

from pathlib import Path

PLUGIN_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = PLUGIN_ROOT / "resources"
ICONS = RESOURCES / "icons"
STYLES = RESOURCES / "styles"
UI = PLUGIN_ROOT / "ui"


def icon_path(name: str = "sitewatch.svg") -> str:
    return str(ICONS / name)


def style_path(name: str) -> str:
    return str(STYLES / name)
