"""Mark a plugin as enabled in the default QGIS profile (what Plugin Manager's checkbox does)."""
from __future__ import annotations

import sys
from pathlib import Path

from qgis.PyQt.QtCore import QSettings

PROFILE = Path.home() / ".local/share/QGIS/QGIS3/profiles/default"

if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "sitewatch"
    PROFILE.joinpath("QGIS").mkdir(parents=True, exist_ok=True)
    settings = QSettings(str(PROFILE / "QGIS" / "QGIS3.ini"), QSettings.Format.IniFormat)
    settings.setValue(f"PythonPlugins/{name}", True)
    settings.sync()
