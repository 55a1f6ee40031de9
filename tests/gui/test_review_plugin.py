"""The plugin's review action: registered with the plugin, removed on unload, clear when nothing is shown."""
from __future__ import annotations

import importlib

from qgis.core import Qgis
from qgis.PyQt.QtWidgets import QAction


def test_review_action_comes_and_goes_with_the_plugin(qgis_app, qgis_iface, qgis_processing, qgis_new_project):
    package = importlib.import_module("sitewatch")
    main_window = qgis_iface.mainWindow()
    plugin = package.classFactory(qgis_iface)
    plugin.initGui()
    try:
        action = plugin.review_action
        assert action is not None and action in plugin.toolbar.actions() and action.toolTip()
        qgis_iface.messageBar().clear_messages()
        action.trigger()  # no analysis shown: says what to do, opens nothing
        messages = qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Warning)
        assert any("run or reopen" in m for m in messages) and plugin.review_panel is None
    finally:
        plugin.unload()
    qgis_app.processEvents()
    assert plugin.review_action is None
    assert not [a for a in main_window.findChildren(QAction) if a.objectName() == "SiteWatchReview"
                and a.parent() is main_window]


def test_review_opens_on_the_analysis_the_panel_shows(qgis_app, qgis_iface, qgis_processing, qgis_new_project,
                                                     review_sample_root, tmp_path):
    from qgis.core import QgsProject

    from review_gui_helpers import analysis_record, copy_sample
    from sitewatch.plugin.layers.analysis_layers import AnalysisOutputs
    from sitewatch.plugin.qgisio import sites as site_store

    analysis = copy_sample(review_sample_root, tmp_path / "sample")
    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))
    package = importlib.import_module("sitewatch")
    plugin = package.classFactory(qgis_iface)
    plugin.initGui()
    try:
        record = analysis_record(analysis)
        site = site_store.Site("sample", "POLYGON((0 0,1 0,1 1,0 0))", "", str(analysis.parent.parent / "workspace.gpkg"))
        site.workspace().add_analysis(record)
        dock = plugin.dock
        dock.sites, dock.site = [site], site
        dock.show_analysis(AnalysisOutputs.from_record(record), record.summary)
        panel = plugin.open_review()
        assert panel is not None and plugin.review_panel is panel
        assert panel.ui.analysisLabel.text() == record.title
        table = dock.results_table.table
        assert "pantsir" not in {table.item(r, 0).text() for r in range(table.rowCount())}
        target = next(s for s in panel.queue if s.obj.side == "after")
        panel.set_current(target.object_id)
        panel.relabel_current("pantsir")  # the dock's counts follow the reviewed state
        rows = {table.item(r, 0).text(): r for r in range(table.rowCount()) if table.item(r, 1) is not None}
        assert "pantsir" in rows and table.item(rows["pantsir"], 2).text() == "1"  # after: 1
    finally:
        plugin.unload()
    assert plugin.review_panel is None


def test_redetect_runs_the_panel_with_the_site_model(qgis_app, qgis_iface, qgis_new_project, tmp_path, monkeypatch):
    from sitewatch.plugin.gui.dock import SiteWatchDock
    from sitewatch.plugin.gui.review.retrain import redetect

    dock = SiteWatchDock(qgis_iface)
    try:
        runs = []
        monkeypatch.setattr(dock, "run_analysis", lambda *args: runs.append(args))
        model = tmp_path / "models" / "learned.onnx"
        redetect(dock, str(model))
        assert runs == [()]
        assert dock.equipment_options.engine == "model"
        assert dock.equipment_options.model_widget.filePath() == str(model)
    finally:
        dock.shutdown()
