"""The dock panel: sites, capture pickers, dates, persistence, tooltips, results table."""
from __future__ import annotations

from pathlib import Path

import pytest
from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QListWidget,
    QProgressBar,
    QSlider,
    QTableWidget,
)

from analysis_fixtures import capture_pair, site_wkt, write_analysis, write_capture

CRS = QgsCoordinateReferenceSystem("EPSG:32636")


@pytest.fixture()
def dock(qgis_app, qgis_iface, qgis_new_project, tmp_path):
    from sitewatch.plugin.gui.dock import SiteWatchDock

    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))  # workspaces go beside it
    panel = SiteWatchDock(qgis_iface)
    qgis_iface.messageBar().clear_messages()
    yield panel
    panel.shutdown()
    panel.deleteLater()
    qgis_app.processEvents()


def _add_raster(path: Path, name: str | None = None) -> QgsRasterLayer:
    layer = QgsRasterLayer(str(path), name or path.stem)
    assert layer.isValid()
    QgsProject.instance().addMapLayer(layer)
    return layer


def _site_for_change_only(dock, qgis_app, tmp_path: Path) -> None:
    """A site over two dated captures, equipment counts off: ready to run change detection."""
    for path in capture_pair(tmp_path / "captures"):
        _add_raster(path)
    dock.create_site("Base", QgsGeometry.fromWkt(site_wkt()), CRS)
    dock.equipment_options.setChecked(False)
    _refresh(dock, qgis_app)


def _refresh(dock, qgis_app):
    dock._refresh_timer.stop()
    dock.refresh_captures()
    qgis_app.processEvents()


def test_every_control_explains_itself(dock):
    from qgis.gui import QgsFileWidget
    from qgis.PyQt.QtWidgets import QAbstractItemView, QLineEdit, QWidget

    kinds = (QAbstractButton, QComboBox, QAbstractSpinBox, QSlider, QTableWidget, QListWidget, QProgressBar)
    checked, missing = 0, []
    for widget in dock.findChildren(QWidget):
        if not isinstance(widget, kinds):
            continue
        # Qt's own parts (dock title buttons, group-box collapse arrows, clear buttons in line
        # edits, the table's corner button) are not SiteWatch controls
        if widget.objectName().startswith("qt_") or widget.objectName() == "collapseButton":
            continue
        if isinstance(widget.parent(), (QLineEdit, QgsFileWidget, QAbstractItemView)):
            continue
        checked += 1
        if not widget.toolTip().strip():
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}")
    assert checked >= 20
    assert missing == []


def test_without_a_site_the_panel_says_what_to_do(dock):
    assert dock.site is None
    assert not dock.run_button.isEnabled()
    assert "site" in dock.plan_label.text().lower()
    assert not dock.cancel_button.isEnabled()


def test_site_lists_covering_captures_by_date(dock, qgis_app, tmp_path):
    before, after = capture_pair(tmp_path / "captures")
    undated = write_capture(tmp_path / "captures" / "scan.tif", 3)
    far = write_capture(tmp_path / "captures" / "elsewhere_2024-02-02.tif", 4, origin=(700000.0, 3800000.0))
    for path in (after, undated, far, before):
        _add_raster(path)
    site = dock.create_site("Base", QgsGeometry.fromWkt(site_wkt()), CRS)
    _refresh(dock, qgis_app)
    assert site.name == "Base" and Path(site.workspace_path).is_file()
    assert dock.site_selector.current_name() == "Base"
    names = [c.name for c in dock.capture_picker.captures]
    assert names == ["base_before", "base_after", "scan"]  # by date, undated last, far one left out
    first = dock.capture_picker.captures[0]
    assert first.date.iso_date == "2024-01-05" and first.gsd_m == pytest.approx(0.5) and first.coverage == pytest.approx(1.0)
    label = dock.capture_picker.before_combo.currentText()
    assert "2024-01-05" in label and "0.50 m" in label and "100% of site" in label
    assert dock.capture_picker.before().name == "base_before"
    assert dock.capture_picker.after().name == "base_after"
    # the default engine needs example boxes: the panel says so and waits
    assert not dock.run_button.isEnabled()
    assert "example boxes" in dock.plan_label.text()
    dock.equipment_options.setChecked(False)
    assert dock.run_button.isEnabled()
    assert "Estimated time" in dock.plan_label.text()

    dock.capture_picker.swap()
    assert dock.capture_picker.before().name == "base_after"
    assert "swap" in dock.capture_picker.hint_label.text().lower()
    dock.capture_picker.swap()
    assert dock.capture_picker.before().name == "base_before"


def test_entered_date_is_remembered_on_layer_and_workspace(dock, qgis_app, tmp_path):
    from sitewatch.plugin.qgisio.captures import DATE_PROPERTY

    before, _after = capture_pair(tmp_path / "captures")
    undated = write_capture(tmp_path / "captures" / "scan.tif", 3)
    _add_raster(before)
    scan = _add_raster(undated)
    dock.create_site("Base", QgsGeometry.fromWkt(site_wkt()), CRS)
    _refresh(dock, qgis_app)
    assert [c.date_text for c in dock.capture_picker.captures] == ["2024-01-05", "no date"]
    dock.set_capture_date(scan.id(), "2023-12-01")
    assert scan.customProperty(DATE_PROPERTY) == "2023-12-01"
    assert dock.site.workspace().capture_dates() == {str(undated): "2023-12-01"}
    caps = dock.capture_picker.captures
    assert [c.name for c in caps] == ["scan", "base_before"]
    assert caps[0].date.source == "entered by user"


def test_sites_come_back_with_the_project(dock, qgis_app, tmp_path):
    dock.create_site("North", QgsGeometry.fromWkt(site_wkt()), CRS)
    dock.create_site("South", QgsGeometry.fromWkt(site_wkt(20.0)), CRS)
    dock.site_selector.combo.setCurrentIndex(0)
    project = QgsProject.instance()
    path = tmp_path / "saved.qgz"
    assert project.write(str(path))
    project.clear()
    qgis_app.processEvents()
    assert dock.sites == [] and dock.site is None
    assert project.read(str(path))
    qgis_app.processEvents()
    assert [s.name for s in dock.sites] == ["North", "South"]
    assert dock.site is not None and dock.site.name == "North"


def test_site_from_selected_polygon(dock, qgis_iface, monkeypatch):
    from qgis.PyQt.QtWidgets import QInputDialog

    layer = QgsVectorLayer("Polygon?crs=EPSG:32636&field=name:string", "areas", "memory")
    feat = QgsFeature(layer.fields())
    feat.setGeometry(QgsGeometry.fromWkt(site_wkt()))
    feat["name"] = "Hangars"
    layer.dataProvider().addFeatures([feat])
    QgsProject.instance().addMapLayer(layer)
    layer.selectAll()
    qgis_iface.setActiveLayer(layer)
    asked = []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: (asked.append(k.get("text")) or ("Hangars", True)))
    dock.site_from_selection()
    assert asked == ["Hangars"]
    assert dock.site is not None and dock.site.name == "Hangars"
    assert QgsGeometry.fromWkt(dock.site.polygon_wkt).area() == pytest.approx(90.0 * 90.0)


def test_site_from_selection_without_selection_warns(dock, qgis_iface):
    from qgis.core import Qgis

    layer = QgsVectorLayer("Polygon?crs=EPSG:32636", "areas", "memory")
    QgsProject.instance().addMapLayer(layer)
    qgis_iface.setActiveLayer(layer)
    dock.site_from_selection()
    assert dock.site is None
    assert any("Select" in m for m in qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Warning))


def test_draw_site_with_the_map_tool(dock, qgis_iface, monkeypatch):
    from qgis.PyQt.QtWidgets import QInputDialog

    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(CRS)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("Drawn", True))
    dock.start_drawing()
    tool = canvas.mapTool()
    assert tool is dock.map_tool and dock.site_selector.draw_button.isChecked()
    for x, y in ((500010, 3799910), (500090, 3799910), (500090, 3799990), (500010, 3799990)):
        tool.add_point(QgsPointXY(x, y))
    assert tool.finish()
    assert dock.site.name == "Drawn"
    assert QgsGeometry.fromWkt(dock.site.polygon_wkt).area() == pytest.approx(6400.0)
    assert dock.outline.band.asGeometry().area() == pytest.approx(6400.0)  # the site's outline on the map
    canvas.setExtent(QgsGeometry.fromWkt("POLYGON((0 0,10 0,10 10,0 10,0 0))").boundingBox())
    dock.site_selector.zoom_button.click()
    assert canvas.extent().contains(QgsGeometry.fromWkt(dock.site.polygon_wkt).boundingBox())
    assert canvas.extent().width() < 500
    assert not dock.site_selector.draw_button.isChecked()


def test_results_table_and_zoom(dock, qgis_iface, tmp_path):
    from sitewatch.plugin.layers.analysis_layers import ROLE_DETECTIONS_AFTER, ROLE_DETECTIONS_BEFORE, AnalysisOutputs, group_layers

    gpkg, score = write_analysis(tmp_path / "run")
    before, after = capture_pair(tmp_path / "captures")
    canvas = qgis_iface.mapCanvas()
    canvas.setDestinationCrs(CRS)
    canvas.resize(400, 400)
    outputs = AnalysisOutputs("SiteWatch: Base A -> B", str(gpkg), str(score), str(before), str(after), "A", "B")
    dock.show_analysis(outputs, ["Summary line"])
    table = dock.results_table.table
    rows = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert rows == ["aircraft", "vehicle", "All classes", "Change regions: 2, 136 m²"]
    assert [table.item(1, c).text() for c in range(8)] == ["vehicle", "1", "2", "+1", "1", "0", "0", "1"]
    assert dock.results_table.summary_label.text() == "Summary line"

    layers = group_layers(dock.current_group())
    dock.results_table.click_row(1)  # vehicle: one box before, two after
    extent = canvas.extent()
    assert layers[ROLE_DETECTIONS_BEFORE].selectedFeatureCount() == 1
    assert layers[ROLE_DETECTIONS_AFTER].selectedFeatureCount() == 2
    for f in layers[ROLE_DETECTIONS_AFTER].selectedFeatures():
        assert extent.contains(f.geometry().boundingBox())
    assert min(extent.width(), extent.height()) < 70.0  # zoomed in on the vehicles, not the whole site
    dock.results_table.click_row(1, 4)  # the 'arrived' cell
    assert layers[ROLE_DETECTIONS_AFTER].selectedFeatureCount() == 1
    assert layers[ROLE_DETECTIONS_BEFORE].selectedFeatureCount() == 0

    dock.compare.show_date("before")
    group = dock.current_group()
    vis = {n.name(): n.itemVisibilityChecked() for n in group.findLayers()}
    assert vis["Before A"] and not vis["After B"]
    dock.compare.set_flicker(True)
    assert dock.compare.timer.isActive()
    dock.compare.toggle()
    vis = {n.name(): n.itemVisibilityChecked() for n in group.findLayers()}
    assert vis["After B"] and not vis["Before A"]
    dock.compare.set_flicker(False)
    assert not dock.compare.timer.isActive()


def test_date_dialog_gives_iso_dates(qgis_app):
    from datetime import datetime, timezone

    from sitewatch.plugin.gui.date_dialog import CaptureDateDialog

    dialog = CaptureDateDialog("scan", datetime(2023, 12, 1, tzinfo=timezone.utc))
    assert dialog.iso() == "2023-12-01"
    dialog = CaptureDateDialog("scan", datetime(2023, 12, 1, 8, 30, tzinfo=timezone.utc))
    assert dialog.iso() == "2023-12-01T08:30:00Z"


def test_date_dialog_calendar_and_keyboard_entry(qgis_app):
    """The user picks a day in the calendar popup, or types the date; OK gives that date."""
    from datetime import datetime, timezone

    from qgis.PyQt.QtCore import QDate, QPoint, Qt
    from qgis.PyQt.QtTest import QTest
    from qgis.PyQt.QtWidgets import QDialogButtonBox, QTableView

    from sitewatch.plugin.gui.date_dialog import CaptureDateDialog

    dialog = CaptureDateDialog("scan", datetime(2023, 12, 1, tzinfo=timezone.utc))
    dialog.show()
    calendar = dialog.edit.calendarWidget()
    calendar.setCurrentPage(2024, 12)
    view = calendar.findChild(QTableView)
    model = view.model()
    cell = next((model.index(r, c) for r in range(model.rowCount()) for c in range(model.columnCount())
                 if str(model.data(model.index(r, c))) == "13" and r > 0), None)
    assert cell is not None
    rect = view.visualRect(cell)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    assert calendar.selectedDate() == QDate(2024, 12, 13)
    assert dialog.iso() == "2024-12-13"

    dialog.edit.setFocus()
    dialog.edit.setSelectedSection(dialog.edit.sectionAt(0))
    QTest.keyClicks(dialog.edit, "2021")
    assert dialog.iso().startswith("2021-12-13")
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    QTest.mouseClick(ok, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(2, 2))
    assert dialog.result() == dialog.DialogCode.Accepted


def test_date_button_sets_the_date(dock, qgis_app, tmp_path, monkeypatch):
    from qgis.PyQt.QtWidgets import QDialog

    from sitewatch.plugin.gui.date_dialog import CaptureDateDialog

    undated = write_capture(tmp_path / "scan.tif", 3)
    scan = _add_raster(undated)
    dock.create_site("Base", QgsGeometry.fromWkt(site_wkt()), CRS)
    _refresh(dock, qgis_app)
    monkeypatch.setattr(CaptureDateDialog, "exec", lambda self: QDialog.DialogCode.Accepted)
    monkeypatch.setattr(CaptureDateDialog, "iso", lambda self: "2022-02-02")
    dock.capture_picker.before_date_button.click()
    assert dock.capture_picker.captures[0].date_text == "2022-02-02"
    assert scan.customProperty("sitewatch/capture_date") == "2022-02-02"


def test_examples_capture_choice_reaches_the_analysis(dock, qgis_app):
    """'Drawn on' shows with the Exemplar engine only and sets which capture the examples come from."""
    from sitewatch.plugin.core.pipeline import _exemplar_raster

    options = dock.equipment_options
    options.show()
    options.engine_combo.setCurrentIndex(options.engine_combo.findData("exemplar"))
    assert options.drawn_on_combo.isVisibleTo(options)
    assert options.options("ex.gpkg").exemplars_capture == "before"
    options.drawn_on_combo.setCurrentIndex(options.drawn_on_combo.findData("after"))
    chosen = options.options("ex.gpkg")
    assert chosen.exemplars_capture == "after"

    class Params:
        before_path, after_path, equipment = "b.tif", "a.tif", chosen

    assert _exemplar_raster(Params) == "a.tif"
    options.engine_combo.setCurrentIndex(options.engine_combo.findData("model"))
    assert not options.drawn_on_combo.isVisibleTo(options)


def test_left_out_polygons_reach_the_analysis_in_the_site_crs(dock, qgis_app, tmp_path):
    """'Leave out' takes a polygon layer in any CRS; only what lies over the site is passed on,
    in the site's CRS, and the plan says how much of the site is left out."""
    from qgis.core import QgsCoordinateTransform

    _site_for_change_only(dock, qgis_app, tmp_path)
    assert dock.left_out_picker.layer() is None
    assert dock.build_parameters().left_out_wkt is None

    site = QgsGeometry.fromWkt(site_wkt())
    box = site.boundingBox()
    cloud = QgsGeometry.fromWkt(  # a cloud over the site's west edge, partly outside it
        f"POLYGON(({box.xMinimum() - 20} {box.yMinimum() + 10},{box.xMinimum() + 30} {box.yMinimum() + 10},"
        f"{box.xMinimum() + 30} {box.yMinimum() + 40},{box.xMinimum() - 20} {box.yMinimum() + 40},"
        f"{box.xMinimum() - 20} {box.yMinimum() + 10}))")
    far = QgsGeometry.fromWkt(f"POLYGON(({box.xMaximum() + 500} {box.yMinimum()},{box.xMaximum() + 600} {box.yMinimum()},"
                              f"{box.xMaximum() + 600} {box.yMaximum()},{box.xMaximum() + 500} {box.yMinimum()}))")
    wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
    to_wgs84 = QgsCoordinateTransform(CRS, wgs84, QgsProject.instance())
    layer = QgsVectorLayer("Polygon?crs=EPSG:4326", "clouds", "memory")
    features = []
    for geometry in (cloud, far):
        g = QgsGeometry(geometry)
        g.transform(to_wgs84)
        feature = QgsFeature()
        feature.setGeometry(g)
        features.append(feature)
    layer.dataProvider().addFeatures(features)
    QgsProject.instance().addMapLayer(layer)
    dock.left_out_picker.set_layer(layer)
    qgis_app.processEvents()

    left_out = QgsGeometry.fromWkt(dock.build_parameters().left_out_wkt)
    assert left_out.area() == pytest.approx(30 * 30, rel=0.02)  # the part over the site, in metres
    assert left_out.boundingBox().xMinimum() == pytest.approx(box.xMinimum(), abs=0.5)
    assert "Left out on both dates: 900 m² of the site" in dock.plan_label.text()


def test_advanced_options_are_folded_away_and_reach_the_analysis(dock, qgis_app, tmp_path):
    """Every Toolbox option of the two steps is in the panel, its advanced ones in a section
    folded by default; what is set there is in the analysis the panel runs."""
    _site_for_change_only(dock, qgis_app, tmp_path)
    change, equipment = dock.change_options, dock.equipment_options
    assert change.advanced_box.isCollapsed() and equipment.advanced_box.isCollapsed()
    defaults = dock.build_parameters()
    assert (defaults.change.coregister, defaults.change.normalize) == (True, True)
    assert (defaults.change.half_resolution, defaults.change.drop_shadow_moves) == (False, True)

    change.coregister_check.setChecked(False)
    change.normalize_check.setChecked(False)
    change.half_resolution_check.setChecked(True)
    change.drop_shadow_moves_check.setChecked(False)
    equipment.max_distance_spin.setValue(35.0)
    equipment.stay_tolerance_spin.setValue(1.5)
    params = dock.build_parameters()
    assert (params.change.coregister, params.change.normalize) == (False, False)
    assert (params.change.half_resolution, params.change.drop_shadow_moves) == (True, False)
    assert (params.equipment.max_distance_m, params.equipment.stay_tolerance_m) == (35.0, 1.5)


def test_half_resolution_set_in_the_panel_reaches_the_change_step(dock, qgis_app, tmp_path, monkeypatch):
    """From the checkbox to the core: the panel's run scores change on the half-resolution grid."""
    from sitewatch.plugin.core import change as change_package
    from sitewatch.plugin.core.pipeline import run_analysis

    _site_for_change_only(dock, qgis_app, tmp_path)
    dock.change_options.half_resolution_check.setChecked(True)
    dock.change_options.drop_shadow_moves_check.setChecked(False)
    received = []
    real = change_package.detect_changes

    def detect_changes(params, progress=None):
        received.append(params)
        return real(params, progress)

    monkeypatch.setattr(change_package, "detect_changes", detect_changes)
    result = run_analysis(dock.build_parameters())
    assert len(received) == 1
    assert (received[0].half_resolution, received[0].drop_shadow_moves) == (True, False)
    assert result.change is not None and Path(result.mask_path).exists()
