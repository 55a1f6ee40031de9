"""Running from the panel: results and history, reopening, cancel, errors in the message bar."""
from __future__ import annotations

import time
from pathlib import Path

import pytest
from qgis.core import Qgis, QgsCoordinateReferenceSystem, QgsGeometry, QgsProject, QgsRasterLayer, QgsVectorLayer

from analysis_fixtures import BEFORE_BOXES, capture_pair, site_wkt, write_capture, write_examples

CRS = QgsCoordinateReferenceSystem("EPSG:32636")


@pytest.fixture()
def dock(qgis_app, qgis_iface, qgis_new_project, tmp_path):
    from sitewatch.plugin.gui.dock import SiteWatchDock

    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))
    qgis_iface.mapCanvas().setDestinationCrs(CRS)
    panel = SiteWatchDock(qgis_iface)
    qgis_iface.messageBar().clear_messages()
    yield panel
    panel.shutdown()
    panel.deleteLater()
    qgis_app.processEvents()


def _add(path: Path) -> QgsRasterLayer:
    layer = QgsRasterLayer(str(path), path.stem)
    QgsProject.instance().addMapLayer(layer)
    return layer


def _prepare(dock, qgis_app, before: Path, after: Path, equipment: bool = False, wkt: str = ""):
    _add(before)
    _add(after)
    dock.create_site("Base", QgsGeometry.fromWkt(wkt or site_wkt()), CRS)
    dock._refresh_timer.stop()
    dock.refresh_captures()
    dock.equipment_options.setChecked(equipment)
    qgis_app.processEvents()


def _wait_idle(dock, qgis_app, timeout_s: float = 90.0) -> None:
    start = time.perf_counter()
    while dock.task is not None:
        qgis_app.processEvents()
        time.sleep(0.01)
        assert time.perf_counter() - start < timeout_s, "the analysis did not finish in time"
    qgis_app.processEvents()


def _analysis_groups():
    return [g for g in QgsProject.instance().layerTreeRoot().children() if g.name().startswith("SiteWatch:")]


def test_run_shows_layers_results_and_history(dock, qgis_app, qgis_iface, tmp_path):
    before, after = capture_pair(tmp_path / "captures")
    _prepare(dock, qgis_app, before, after)
    assert dock.run_button.isEnabled()
    task = dock.run_analysis()
    assert task is not None and not dock.run_button.isEnabled() and dock.cancel_button.isEnabled()
    _wait_idle(dock, qgis_app)
    assert qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical) == []
    groups = _analysis_groups()
    assert [g.name() for g in groups] == ["SiteWatch: Base 2024-01-05 -> 2024-03-07"]
    names = [n.name() for n in groups[0].findLayers()]
    assert "Change score" in names and "Change regions" in names
    assert "After 2024-03-07" in names and "Before 2024-01-05" in names
    assert dock.progress_bar.value() == 100 and dock.run_button.isEnabled()
    table = dock.results_table.table
    assert table.item(table.rowCount() - 1, 0).text().startswith("Change regions:")
    records = dock.site.workspace().analyses()
    assert len(records) == 1 and Path(records[0].gpkg_path).is_file()
    assert dock.history.list.count() == 1

    # remove the group, then reopen the analysis from the history
    from sitewatch.plugin.layers.analysis_layers import remove_group

    remove_group(groups[0])
    assert _analysis_groups() == []
    dock.history.list.setCurrentRow(0)
    dock.history.open_button.click()
    assert [g.name() for g in _analysis_groups()] == ["SiteWatch: Base 2024-01-05 -> 2024-03-07"]
    assert len(QgsProject.instance().mapLayers()) == 2 + len(names)  # the captures + the reopened group


@pytest.mark.slow
def test_run_with_equipment_counts(dock, qgis_app, qgis_iface, tmp_path):
    before, after = capture_pair(tmp_path / "captures")
    examples = QgsVectorLayer(f"{write_examples(tmp_path / 'examples.gpkg', BEFORE_BOXES[:2])}|layername=examples",
                              "examples", "ogr")
    QgsProject.instance().addMapLayer(examples)
    _prepare(dock, qgis_app, before, after, equipment=True)
    dock.equipment_options.exemplar_combo.setLayer(examples)
    assert dock.run_button.isEnabled(), dock.plan_label.text()
    dock.run_analysis()
    _wait_idle(dock, qgis_app)
    assert qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical) == []
    group = _analysis_groups()[0]
    names = [n.name() for n in group.findLayers()]
    assert "Equipment 2024-01-05" in names and "Equipment 2024-03-07" in names
    # the fixture's vehicles: three before, four after; two stayed, one departed, two arrived
    table = dock.results_table.table
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(1, 8)]
            for r in range(table.rowCount()) if table.item(r, 1) is not None}
    assert rows == {"vehicle": ["3", "4", "+1", "2", "1", "2", "0"],
                    "All classes": ["3", "4", "+1", "2", "1", "2", "0"]}, rows
    events = {}
    for name in ("Equipment 2024-01-05", "Equipment 2024-03-07"):
        layer = next(n.layer() for n in group.findLayers() if n.name() == name)
        events[name] = sorted(f["event"] for f in layer.getFeatures())
    assert events == {"Equipment 2024-01-05": ["departed", "stayed", "stayed"],
                      "Equipment 2024-03-07": ["arrived", "arrived", "stayed", "stayed"]}


def test_cancel_from_panel_leaves_nothing(dock, qgis_app, qgis_iface, tmp_path):
    folder = tmp_path / "captures"
    folder.mkdir()
    before = write_capture(folder / "big_2024-01-01.tif", 1, boxes=[(100, 100, 140, 120)], size=1600)
    after = write_capture(folder / "big_2024-02-01.tif", 2, boxes=[(500, 500, 540, 520)], size=1600)
    _add(before)
    _add(after)
    dock.create_site("Wide", QgsGeometry.fromWkt("POLYGON((500010 3799210,500790 3799210,500790 3799990,500010 3799990,500010 3799210))"), CRS)
    dock._refresh_timer.stop()
    dock.refresh_captures()
    dock.equipment_options.setChecked(False)
    layers_before = set(QgsProject.instance().mapLayers())
    task = dock.run_analysis()
    start = time.perf_counter()
    while task.progress() <= 0.0 and dock.task is not None:
        qgis_app.processEvents()
        time.sleep(0.005)
        assert time.perf_counter() - start < 30
    dock.cancel_button.click()
    cancelled_at = time.perf_counter()
    _wait_idle(dock, qgis_app)
    assert time.perf_counter() - cancelled_at < 3.0
    assert set(QgsProject.instance().mapLayers()) == layers_before
    assert _analysis_groups() == []
    analyses = dock.site.workspace().analyses_dir()
    assert not analyses.exists() or list(analyses.iterdir()) == []
    assert dock.site.workspace().analyses() == []
    assert any("cancelled" in m.lower() for m in qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Info))
    assert dock.run_button.isEnabled() and not dock.cancel_button.isEnabled()


def test_error_shows_in_message_bar(dock, qgis_app, qgis_iface, tmp_path):
    folder = tmp_path / "captures"
    folder.mkdir()
    # each capture covers one half of the site; they share no pixel
    west = write_capture(folder / "west_2024-01-01.tif", 1, size=100)
    east = write_capture(folder / "east_2024-02-01.tif", 2, origin=(500050.0, 3800000.0), size=100)
    strip = "POLYGON((500010 3799960,500090 3799960,500090 3799990,500010 3799990,500010 3799960))"
    _prepare(dock, qgis_app, west, east, wkt=strip)
    caps = dock.capture_picker.captures
    assert [round(c.coverage, 1) for c in caps] == [0.5, 0.5]
    dock.run_analysis()
    _wait_idle(dock, qgis_app)
    errors = qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical)
    assert len(errors) == 1
    assert "share no area" in errors[0] and "west_2024-01-01.tif" in errors[0]
    assert _analysis_groups() == []
    assert dock.status_label.text().startswith("Failed:")


def test_saved_project_brings_back_the_results(dock, qgis_app, tmp_path):
    before, after = capture_pair(tmp_path / "captures")
    _prepare(dock, qgis_app, before, after)
    dock.run_analysis()
    _wait_idle(dock, qgis_app)
    rows = dock.results_table.table.rowCount()
    assert rows >= 1
    project = QgsProject.instance()
    assert project.write(str(tmp_path / "saved.qgz"))
    project.clear()
    qgis_app.processEvents()
    assert dock.results_table.table.rowCount() == 0
    assert project.read(str(tmp_path / "saved.qgz"))
    qgis_app.processEvents()
    assert dock.shown_group_title == "SiteWatch: Base 2024-01-05 -> 2024-03-07"
    assert dock.results_table.table.rowCount() == rows
    dock.compare.show_date("before")  # the flicker control works on the reloaded group
    vis = {n.name(): n.itemVisibilityChecked() for n in dock.current_group().findLayers()}
    assert vis["Before 2024-01-05"] and not vis["After 2024-03-07"]
