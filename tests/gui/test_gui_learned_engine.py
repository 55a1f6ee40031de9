"""The panel's Learned engine runs the model stored for the site, or is greyed out with a hint."""
from __future__ import annotations

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsGeometry, QgsProject, QgsRasterLayer

from analysis_fixtures import capture_pair, site_wkt


@pytest.fixture()
def dock(qgis_app, qgis_iface, qgis_new_project, tmp_path):
    from sitewatch.plugin.gui.dock import SiteWatchDock

    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))
    for path in capture_pair(tmp_path / "captures"):
        QgsProject.instance().addMapLayer(QgsRasterLayer(str(path), path.stem))
    panel = SiteWatchDock(qgis_iface)
    yield panel
    panel.shutdown()
    panel.deleteLater()
    qgis_app.processEvents()


def _learned_item(options):
    return options.engine_combo.model().item(options.engine_combo.findData("learned"))


def test_without_a_site_model_learned_is_disabled_with_a_hint(dock):
    options = dock.equipment_options
    assert not _learned_item(options).isEnabled()
    assert "choose a site" in options.engine_hint_label.text().lower()

    site = dock.create_site("Base", QgsGeometry.fromWkt(site_wkt()), QgsCoordinateReferenceSystem("EPSG:32636"))
    model_path = site.workspace().learned_model_path()
    assert model_path == site.workspace().folder / "models" / "learned.onnx" and not model_path.exists()
    hint = options.engine_hint_label.text()
    assert not _learned_item(options).isEnabled()
    assert "sitewatch:trainequipmentdetector" in hint and "models/learned.onnx" in hint and "“Base”" in hint
    assert str(model_path) in options.engine_hint_label.toolTip()
    assert options.engine_hint_label.isVisibleTo(options)
    # chosen anyway (e.g. by a script): Run stays disabled and says why
    options.engine_combo.setCurrentIndex(options.engine_combo.findData("learned"))
    dock.change_options.setChecked(False)
    assert not dock.run_button.isEnabled()
    assert "no trained model" in dock.run_hint_label.text()


def test_a_site_model_is_offered_and_sent_with_the_run(dock, tmp_path):
    pytest.importorskip("onnx", reason="onnx writes the test model")
    from test_gui_model_engine import _model

    site = dock.create_site("Base", QgsGeometry.fromWkt(site_wkt()), QgsCoordinateReferenceSystem("EPSG:32636"))
    model_path = site.workspace().learned_model_path()
    model_path.parent.mkdir(parents=True)
    _model(model_path)
    dock._refresh_timer.stop()
    dock.refresh_captures()  # a model trained while the panel is open shows up on the next refresh
    options = dock.equipment_options
    assert _learned_item(options).isEnabled() and not options.engine_hint_label.isVisibleTo(options)
    options.engine_combo.setCurrentIndex(options.engine_combo.findData("learned"))
    assert dock.run_button.isEnabled()
    params = dock.build_parameters()
    assert params.equipment.engine == "learned" and params.equipment.model_path == str(model_path)
    assert "learned.onnx" in dock.plan_label.text()

    model_path.unlink()  # gone again: back to an engine that can run
    dock.refresh_captures()
    assert not _learned_item(options).isEnabled() and options.engine == "exemplar"


def test_each_engine_keeps_its_minimum_score_and_a_model_starts_from_its_own(dock):
    pytest.importorskip("onnx", reason="onnx writes the test model")
    from test_gui_model_engine import _model

    site = dock.create_site("Base", QgsGeometry.fromWkt(site_wkt()), QgsCoordinateReferenceSystem("EPSG:32636"))
    model_path = site.workspace().learned_model_path()
    model_path.parent.mkdir(parents=True)
    _model(model_path, det_conf=0.275)
    dock._refresh_timer.stop()
    options = dock.equipment_options
    options.min_score_spin.setValue(0.5)  # the Exemplar engine's, as the sample site sets it
    dock.refresh_captures()
    assert options.engine == "exemplar" and options.min_score_spin.value() == pytest.approx(0.5)
    options.engine_combo.setCurrentIndex(options.engine_combo.findData("learned"))
    # the site model's own threshold, not the Exemplar engine's 0.5 (which would drop most of its finds)
    assert options.min_score_spin.value() == pytest.approx(0.275)
    assert dock.build_parameters().equipment.min_score == pytest.approx(0.275)
    assert "0.275" in options.min_score_spin.toolTip()
    options.min_score_spin.setValue(0.4)  # the analyst's choice for this engine ...
    dock.refresh_captures()  # ... survives a refresh that finds the same model
    assert options.min_score_spin.value() == pytest.approx(0.4)
    options.engine_combo.setCurrentIndex(options.engine_combo.findData("exemplar"))
    assert options.min_score_spin.value() == pytest.approx(0.5)
    options.engine_combo.setCurrentIndex(options.engine_combo.findData("learned"))
    assert options.min_score_spin.value() == pytest.approx(0.4)
