"""classFactory -> initGui -> unload, twice: nothing may be left behind."""
from __future__ import annotations

import importlib

from qgis.core import QgsApplication
from qgis.PyQt.QtWidgets import QAction, QDockWidget, QToolBar


def _sitewatch_leftovers(main_window) -> dict:
    return {
        "docks": [d for d in main_window.findChildren(QDockWidget) if d.objectName() == "SiteWatchDock"],
        "toolbars": [t for t in main_window.findChildren(QToolBar) if t.objectName() == "SiteWatchToolbar"],
        "actions": [a for a in main_window.findChildren(QAction)
                    if a.objectName() in ("SiteWatchTogglePanel", "SiteWatchOpenSampleSite", "SiteWatchOptionalPackages")],
        "provider": QgsApplication.processingRegistry().providerById("sitewatch"),
    }


def test_load_unload_twice_leaves_nothing(qgis_app, qgis_iface, qgis_processing):
    package = importlib.import_module("sitewatch")
    main_window = qgis_iface.mainWindow()
    for _ in range(2):
        plugin = package.classFactory(qgis_iface)
        plugin.initGui()
        loaded = _sitewatch_leftovers(main_window)
        assert loaded["provider"] is not None
        assert loaded["provider"].id() == "sitewatch"
        assert plugin.dock is not None and plugin.toolbar is not None
        assert plugin.toggle_dock_action in plugin.toolbar.actions()
        assert {a.objectName() for a in loaded["actions"]} >= {"SiteWatchOpenSampleSite", "SiteWatchOptionalPackages"}
        plugin.unload()
        qgis_app.processEvents()
        left = _sitewatch_leftovers(main_window)
        assert QgsApplication.processingRegistry().providerById("sitewatch") is None
        assert plugin.dock is None and plugin.toolbar is None and plugin.actions == []
        assert not [d for d in left["docks"] if d.parent() is main_window]
        assert not [a for a in left["actions"] if a.parent() is main_window]


def test_unload_disconnects_project_signals(qgis_app, qgis_iface, qgis_processing, qgis_new_project):
    from qgis.core import QgsProject, QgsRasterLayer  # noqa: F401

    package = importlib.import_module("sitewatch")
    plugin = package.classFactory(qgis_iface)
    plugin.initGui()
    dock = plugin.dock
    plugin.unload()
    # after unload the dock must not react to project changes any more
    before = dock.status_label.text() if not _is_deleted(dock) else None
    QgsProject.instance().layersAdded.emit([])
    if before is not None:
        assert dock.status_label.text() == before


def _is_deleted(obj) -> bool:
    try:
        from qgis.PyQt import sip
    except ImportError:  # pragma: no cover
        import sip
    return sip.isdeleted(obj)
