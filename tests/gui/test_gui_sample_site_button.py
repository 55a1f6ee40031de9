"""'Try the sample site' in the panel: the site, both dates and the examples are filled in,
ready to run; a second press reuses what was prepared; cancel keeps nothing."""
from __future__ import annotations

import time

import pytest
from qgis.core import Qgis, QgsProject, QgsRasterLayer, QgsVectorLayer


@pytest.fixture()
def dock(sample_dock):
    return sample_dock


def _wait(dock, qgis_app, timeout_s: float = 60.0) -> None:
    start = time.perf_counter()
    while dock.sample_loader.busy:
        qgis_app.processEvents()
        time.sleep(0.01)
        assert time.perf_counter() - start < timeout_s, "the sample site was not prepared in time"
    qgis_app.processEvents()


def test_sample_site_button_makes_a_runnable_site(dock, qgis_app, qgis_iface):
    from sitewatch.plugin.gui.sample_site import SAMPLE_SITE_NAME
    from sitewatch.plugin.layers.sample_layers import ROLE_PROPERTY, SAMPLE_GROUP

    dock.site_selector.sample_button.click()
    assert dock.sample_loader.busy and not dock.run_button.isEnabled() and dock.cancel_button.isEnabled()
    _wait(dock, qgis_app)
    assert qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Warning) == []
    assert dock.site is not None and dock.site.name == SAMPLE_SITE_NAME
    group = QgsProject.instance().layerTreeRoot().findGroup(SAMPLE_GROUP)
    layers = [node.layer() for node in group.findLayers()]
    rasters = [lyr for lyr in layers if isinstance(lyr, QgsRasterLayer)]
    examples = [lyr for lyr in layers if lyr.customProperty(ROLE_PROPERTY) == "examples"]
    clouds = [lyr for lyr in layers if lyr.customProperty(ROLE_PROPERTY) == "clouds"]
    assert len(rasters) == 2 and len(examples) == 1 and len(clouds) == 1 and len(layers) == 4
    assert isinstance(clouds[0], QgsVectorLayer) and clouds[0].featureCount() == 1
    assert dock.left_out_picker.layer() is clouds[0]  # the after date's cloud is left out
    classes = {f["class"] for f in examples[0].getFeatures()}
    assert len(classes) >= 2 and all(classes), classes
    before, after = dock.capture_picker.before(), dock.capture_picker.after()
    assert before is not None and after is not None and before.date.date < after.date.date
    assert "before" in before.name and "after" in after.name
    assert dock.equipment_options.isChecked() and dock.equipment_options.engine == "exemplar"
    assert dock.equipment_options.exemplar_combo.currentLayer() is examples[0]
    assert dock.problems() == [] and dock.run_button.isEnabled()
    assert "ready" in dock.status_label.text()

    # what a new user does next: Run, then read the counts and events
    dock.run_button.click()
    start = time.perf_counter()
    while dock.task is not None:
        qgis_app.processEvents()
        time.sleep(0.01)
        assert time.perf_counter() - start < 300, "the analysis did not finish in time"
    qgis_app.processEvents()
    assert qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical) == []
    title = f"SiteWatch: {SAMPLE_SITE_NAME} {before.date.iso_date} -> {after.date.iso_date}"
    assert QgsProject.instance().layerTreeRoot().findGroup(title) is not None
    assert dock.results_table.table.rowCount() >= 1
    # the cloud was left out: no change region reaches into it, and the summary says so
    analysis = max(dock.site.workspace().analyses_dir().iterdir(), key=lambda p: p.stat().st_mtime)
    summary = (analysis / "summary.txt").read_text(encoding="utf-8")
    assert "Left out on both dates" in summary
    # the counts shown are the analysis's, and every detection lies on a true object of its category
    from sample_truth import detections_on_truth

    found = detections_on_truth(analysis / "analysis.gpkg", dock.sample_loader.folder)
    table = dock.results_table.table
    totals = next([table.item(r, c).text() for c in (1, 2)] for r in range(table.rowCount())
                  if table.item(r, 0).text() == "All classes")
    assert totals == [str(sum(found["before"].values())), str(sum(found["after"].values()))], (totals, found)
    cloud = next(clouds[0].getFeatures()).geometry()
    regions = QgsVectorLayer(f"{analysis / 'analysis.gpkg'}|layername=change_regions", "regions", "ogr")
    assert regions.isValid() and regions.featureCount() > 0
    assert not any(f.geometry().intersection(cloud).area() > 1.0 for f in regions.getFeatures())
    from sitewatch.plugin.layers.analysis_layers import ROLE_LEFT_OUT, group_layers

    shown = group_layers(QgsProject.instance().layerTreeRoot().findGroup(title)).get(ROLE_LEFT_OUT)
    assert shown is not None and shown.featureCount() == 1
    assert next(shown.getFeatures()).geometry().area() == pytest.approx(cloud.intersection(dock.site.geometry()).area(),
                                                                        rel=0.01)

    # a second press reuses the prepared files and layers: no duplicates, same site
    stamp = (dock.sample_loader.folder / "before.tif").stat().st_mtime
    dock.open_sample_site()
    _wait(dock, qgis_app)
    assert (dock.sample_loader.folder / "before.tif").stat().st_mtime == stamp
    assert len(group.findLayers()) == 4
    assert [s.name for s in dock.sites].count(SAMPLE_SITE_NAME) == 1


def test_cancelled_sample_site_keeps_nothing(dock, qgis_app, qgis_iface):
    dock.sample_loader.size_px = 2048  # long enough to cancel while it renders
    layers_before = set(QgsProject.instance().mapLayers())
    task = dock.open_sample_site()
    start = time.perf_counter()
    while task.progress() <= 0.0 and dock.sample_loader.busy:
        qgis_app.processEvents()
        time.sleep(0.005)
        assert time.perf_counter() - start < 30
    dock.cancel_button.click()
    _wait(dock, qgis_app)
    assert not dock.sample_loader.folder.exists()
    assert set(QgsProject.instance().mapLayers()) == layers_before
    assert dock.site is None
    assert "not kept" in dock.status_label.text()
    assert dock.site_selector.sample_button.isEnabled() and not dock.cancel_button.isEnabled()


def test_sample_examples_are_one_box_per_category(tmp_path):
    import json

    from sitewatch.plugin.samplesite import generate_sample_site
    from sitewatch.plugin.samplesite.examples import EXAMPLE_CATEGORIES, write_example_boxes

    site = generate_sample_site(tmp_path / "site", size_px=512, seed=7)
    out = write_example_boxes(site, tmp_path / "examples.geojson")
    features = json.loads(out.read_text())["features"]
    truth = json.loads(site.truth_before.read_text())["features"]
    present = {f["properties"]["category"] for f in truth} & set(EXAMPLE_CATEGORIES)
    assert sorted(f["properties"]["category"] for f in features) == sorted(present)
    truth_geoms = [f["geometry"] for f in truth]
    assert all(f["geometry"] in truth_geoms and f["properties"]["class"] for f in features)
