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


def _receivers(objects: dict) -> dict:
    """Receivers connected to every signal of each object: {(object name, signal name): count}."""
    from qgis.PyQt.QtCore import QMetaMethod

    counts = {}
    for label, obj in objects.items():
        meta = obj.metaObject()
        for i in range(meta.methodCount()):
            method = meta.method(i)
            if method.methodType() != QMetaMethod.MethodType.Signal:
                continue
            name = bytes(method.name()).decode()
            signal = getattr(obj, name, None)
            if signal is None or (label, name) in counts:
                continue
            try:
                counts[(label, name)] = obj.receivers(signal)
            except TypeError:  # not a signal Python can name (a private overload)
                continue
    return counts


def _flush_deletions(qgis_app) -> None:
    """Run the deleteLater() calls of unload (the dock's widgets and their connections go with them)."""
    from qgis.PyQt.QtCore import QCoreApplication, QEvent

    qgis_app.processEvents()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qgis_app.processEvents()


def _watched(qgis_iface) -> dict:
    """The QGIS objects whose signals the plugin connects to: the project, its layer tree, the
    canvas, the main window and the processing registry."""
    from qgis.core import QgsProject

    project = QgsProject.instance()
    return {"project": project, "layer tree": project.layerTreeRoot(), "canvas": qgis_iface.mapCanvas(),
            "main window": qgis_iface.mainWindow(), "processing": QgsApplication.processingRegistry()}


def test_unload_disconnects_every_signal(qgis_app, qgis_iface, qgis_processing, qgis_new_project):
    """Receivers on the project, canvas and main window signals: as many after unload as before
    initGui, and more while the plugin is loaded (so the comparison sees its connections)."""
    package = importlib.import_module("sitewatch")
    watched = _watched(qgis_iface)
    before = _receivers(watched)
    plugin = package.classFactory(qgis_iface)
    plugin.initGui()
    qgis_app.processEvents()
    loaded = _receivers(watched)
    added = {k: loaded[k] - before.get(k, 0) for k in loaded if loaded[k] != before.get(k, 0)}
    # the panel follows the project's layers and the canvas's map tool
    assert {("project", "layersAdded"), ("project", "layersRemoved"), ("project", "readProject"),
            ("project", "cleared"), ("canvas", "mapToolSet")} <= set(added), added
    plugin.unload()
    _flush_deletions(qgis_app)
    after = _receivers(watched)
    left = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert left == {}, f"signals still connected after unload: {left}"
