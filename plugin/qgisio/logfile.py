"""Where SiteWatch keeps its log file inside QGIS: the profile's sitewatch folder."""
from __future__ import annotations

import os

from qgis.core import QgsApplication


def log_folder() -> str:
    """The folder of sitewatch.log (core.failures writes it; $SITEWATCH_LOG_DIR overrides)."""
    return os.path.join(QgsApplication.qgisSettingsDirPath(), "sitewatch")
