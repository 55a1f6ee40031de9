"""The whole path on the generated sample site: task run() -> GeoPackage -> styled layers."""
from __future__ import annotations

import pytest
from qgis.core import QgsCategorizedSymbolRenderer, QgsFeature, QgsProject, QgsVectorFileWriter, QgsVectorLayer


@pytest.fixture(scope="module")
def sample_site(tmp_path_factory):
    from sitewatch.plugin.samplesite import generate_sample_site

    return generate_sample_site(tmp_path_factory.mktemp("sample") / "site", size_px=256)


def _examples(truth_path, out_path, count=3) -> str:
    """A few truth boxes of the commonest class, as a user would draw them; returns the class."""
    truth = QgsVectorLayer(str(truth_path), "truth", "ogr")
    classes = [f["detector_class"] for f in truth.getFeatures()]
    assert classes, "the sample site has no objects"
    cls = max(set(classes), key=classes.count)
    mem = QgsVectorLayer("Polygon?crs=EPSG:32636&field=class:string", "examples", "memory")
    feats = []
    for f in truth.getFeatures():
        if f["detector_class"] == cls and len(feats) < count:
            g = QgsFeature(mem.fields())
            g.setGeometry(f.geometry())
            g["class"] = cls
            feats.append(g)
    mem.dataProvider().addFeatures(feats)
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    options.layerName = "examples"
    QgsVectorFileWriter.writeAsVectorFormatV3(mem, str(out_path), QgsProject.instance().transformContext(), options)
    return cls


@pytest.mark.slow
def test_sample_site_run_and_layers(qgis_app, qgis_new_project, sample_site, tmp_path):
    from sitewatch.plugin.core.captures import capture_info
    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions
    from sitewatch.plugin.layers.analysis_layers import (
        ROLE_DETECTIONS_AFTER,
        ROLE_DETECTIONS_BEFORE,
        ROLE_SCORE,
        AnalysisOutputs,
        add_analysis_layers,
        group_layers,
    )
    from sitewatch.plugin.qgisio.results import read_counts
    from sitewatch.plugin.tasks import AnalysisTask

    before, after = capture_info(str(sample_site.before)), capture_info(str(sample_site.after))
    assert before.date.date == sample_site.before_date and after.date.date == sample_site.after_date
    assert before.sensor.startswith("WorldView") and before.gsd_m == pytest.approx(0.5)
    cls = _examples(sample_site.truth_before, tmp_path / "examples.gpkg")
    aoi = QgsVectorLayer(str(sample_site.aoi), "aoi", "ogr")
    params = AnalysisParameters(
        site_name="Khmeimim", before_path=str(sample_site.before), after_path=str(sample_site.after),
        output_dir=str(tmp_path / "analysis"), before_date=before.date.iso_date, after_date=after.date.iso_date,
        aoi_wkt=next(aoi.getFeatures()).geometry().asWkt(), aoi_crs_wkt=aoi.crs().toWkt(),
        equipment=EquipmentOptions(engine="exemplar", exemplars_path=str(tmp_path / "examples.gpkg"),
                                   exemplars_layer="examples", classes=[cls], min_score=0.5),
    )
    task = AnalysisTask(params)
    assert task.run() is True, task.error_message()
    result = task.result
    counts = read_counts(result.gpkg_path)
    assert counts and all(c.delta == c.after - c.before for c in counts)
    group = add_analysis_layers(AnalysisOutputs.from_result(result), result.change.threshold)
    assert group.name() == f"SiteWatch: Khmeimim {before.date.iso_date} -> {after.date.iso_date}"
    layers = group_layers(group)
    assert ROLE_SCORE in layers
    detections = layers[ROLE_DETECTIONS_AFTER]
    assert isinstance(detections.renderer(), QgsCategorizedSymbolRenderer) and detections.labelsEnabled()
    events = {f["event"] for f in detections.getFeatures()}
    assert events <= {"arrived", "stayed", "moved", ""}
    # against the site's truth: on the date they were drawn on, the examples' objects are found and
    # nothing else; on both dates, every detection lies on a true object of the class
    examples = QgsVectorLayer(f"{tmp_path / 'examples.gpkg'}|layername=examples", "examples", "ogr")
    for role, truth_path in ((ROLE_DETECTIONS_BEFORE, sample_site.truth_before),
                             (ROLE_DETECTIONS_AFTER, sample_site.truth_after)):
        truth = [f for f in QgsVectorLayer(str(truth_path), "truth", "ogr").getFeatures() if f["detector_class"] == cls]
        hit = []
        for d in layers[role].getFeatures():
            on = [t["id"] for t in truth if t.geometry().contains(d.geometry().centroid())]
            assert len(on) == 1, f"{role}: a detection on {on or 'no true object'} of class {cls}"
            hit.append(on[0])
        if role == ROLE_DETECTIONS_BEFORE:
            drawn = {t["id"] for t in truth for e in examples.getFeatures()
                     if t.geometry().contains(e.geometry().centroid())}
            assert sorted(hit) == sorted(drawn), (hit, drawn)


def test_sample_site_from_the_panel_through_task_manager(qgis_app, qgis_iface, qgis_new_project, sample_site, tmp_path):
    import time

    from qgis.core import Qgis, QgsRasterLayer

    from sitewatch.plugin.gui.dock import SiteWatchDock

    project = QgsProject.instance()
    project.setFileName(str(tmp_path / "project.qgz"))
    for path in (sample_site.after, sample_site.before):
        project.addMapLayer(QgsRasterLayer(str(path), path.stem))
    dock = SiteWatchDock(qgis_iface)
    try:
        qgis_iface.messageBar().clear_messages()
        aoi = QgsVectorLayer(str(sample_site.aoi), "aoi", "ogr")
        dock.create_site("Khmeimim", next(aoi.getFeatures()).geometry(), aoi.crs())
        dock._refresh_timer.stop()
        dock.refresh_captures()
        assert dock.capture_picker.before().name == "before" and dock.capture_picker.after().name == "after"
        assert "WorldView" in dock.capture_picker.before_combo.currentText()
        dock.equipment_options.setChecked(False)
        assert dock.run_analysis() is not None
        start = time.perf_counter()
        while dock.task is not None:
            qgis_app.processEvents()
            time.sleep(0.01)
            assert time.perf_counter() - start < 60
        qgis_app.processEvents()
        assert qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical) == []
        title = f"SiteWatch: Khmeimim {sample_site.before_date:%Y-%m-%d} -> {sample_site.after_date:%Y-%m-%d}"
        assert project.layerTreeRoot().findGroup(title) is not None
        assert dock.history.list.count() == 1
    finally:
        dock.shutdown()
        dock.deleteLater()
