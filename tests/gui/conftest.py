"""Fixtures shared by the panel tests."""
from __future__ import annotations

import pytest
from qgis.core import QgsProject


@pytest.fixture()
def sample_dock(qgis_app, qgis_iface, qgis_new_project, tmp_path):
    """A panel whose sample site is small (512 px) and prepared in tmp_path."""
    from sitewatch.plugin.gui.dock import SiteWatchDock

    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))
    panel = SiteWatchDock(qgis_iface)
    panel.sample_loader.folder = tmp_path / "sample"
    panel.sample_loader.size_px = 512
    qgis_iface.messageBar().clear_messages()
    yield panel
    panel.shutdown()
    panel.deleteLater()
    qgis_app.processEvents()
