"""The controller between the dock and the core, without the dock: parameters from the
panel's choices, the run's description, the examples file, which layers a results row means."""
from __future__ import annotations

from pathlib import Path

import pytest
from qgis.core import QgsCoordinateReferenceSystem, QgsFeature, QgsGeometry, QgsProject, QgsRasterLayer, QgsVectorLayer

from analysis_fixtures import BEFORE_BOXES, capture_pair, site_wkt, write_examples

CRS = QgsCoordinateReferenceSystem("EPSG:32636")


@pytest.fixture()
def site(qgis_app, qgis_new_project, tmp_path):
    from sitewatch.plugin.qgisio import sites as site_store

    QgsProject.instance().setFileName(str(tmp_path / "project.qgz"))
    return site_store.create_site("Base", QgsGeometry.fromWkt(site_wkt()), CRS)


def _choices(site, tmp_path, examples_layer=None, left_out_layer=None):
    from sitewatch.plugin.core.parameters import ChangeOptions, EquipmentOptions
    from sitewatch.plugin.gui import controller as ctl

    before, after = capture_pair(tmp_path / "captures")
    for path in (before, after):
        QgsProject.instance().addMapLayer(QgsRasterLayer(str(path), path.stem))
    caps = ctl.captures_of(site)
    assert [c.date_text for c in caps] == ["2024-01-05", "2024-03-07"]
    return ctl.PanelChoices(site=site, before=caps[0], after=caps[1], change=ChangeOptions(sensitivity=0.7),
                            equipment=EquipmentOptions(min_score=0.4), examples_layer=examples_layer,
                            left_out_layer=left_out_layer)


def test_parameters_of_the_panel_choices(site, tmp_path):
    from sitewatch.plugin.core.parameters import AnalysisParameters
    from sitewatch.plugin.gui.controller import AnalysisController

    examples = QgsVectorLayer(f"{write_examples(tmp_path / 'examples.gpkg', BEFORE_BOXES[:2])}|layername=examples",
                              "examples", "ogr")
    cloud = QgsVectorLayer("Polygon?crs=EPSG:32636", "cloud", "memory")
    feature = QgsFeature()
    feature.setGeometry(QgsGeometry.fromWkt("POLYGON((499990 3799990,500030 3799990,500030 3800010,499990 3800010,"
                                            "499990 3799990))"))
    cloud.dataProvider().addFeatures([feature])
    choices = _choices(site, tmp_path, examples, cloud)
    controller = AnalysisController()
    params = controller.build_parameters(choices)
    assert isinstance(params, AnalysisParameters)
    params.validate()
    assert (params.site_name, params.before_date, params.after_date) == ("Base", "2024-01-05", "2024-03-07")
    assert params.before_path == choices.before.path and params.aoi_wkt == site.polygon_wkt
    assert Path(params.output_dir).parent == site.workspace().analyses_dir()
    assert params.change.sensitivity == 0.7 and params.equipment.min_score == 0.4
    assert (params.equipment.exemplars_path, params.equipment.exemplars_layer) == (str(tmp_path / "examples.gpkg"),
                                                                                   "examples")
    # the cloud is kept where it lies over the site only
    left_out = QgsGeometry.fromWkt(params.left_out_wkt)
    assert left_out.area() == pytest.approx(QgsGeometry.fromWkt(site_wkt()).intersection(
        feature.geometry()).area()) and left_out.area() < feature.geometry().area()
    lines = controller.describe(params)
    assert lines[0].startswith("Before: 200 x 200 px") and lines[-1].startswith("Estimated time: about")
    assert any("sensitivity 0.70" in line for line in lines)


def test_examples_without_a_file_are_saved_in_the_site_workspace(site, tmp_path):
    from sitewatch.plugin.gui.controller import examples_file

    memory = QgsVectorLayer("Polygon?crs=EPSG:32636&field=class:string", "drawn", "memory")
    path, layer = examples_file(memory, site)
    assert Path(path).parent == Path(site.workspace_path).parent and layer == "examples"
    assert QgsVectorLayer(f"{path}|layername=examples", "x", "ogr").isValid()
    assert examples_file(None, site) == (None, None)


def test_a_results_row_points_at_its_layers():
    from sitewatch.plugin.gui.controller import row_roles
    from sitewatch.plugin.gui.results import REGIONS_ROW_KEY
    from sitewatch.plugin.layers.analysis_layers import ROLE_DETECTIONS_AFTER, ROLE_DETECTIONS_BEFORE, ROLE_REGIONS

    assert row_roles(REGIONS_ROW_KEY, None) == [ROLE_REGIONS]
    assert row_roles("aircraft", "arrived") == [ROLE_DETECTIONS_AFTER]  # arrivals show on the later date
    assert row_roles("aircraft", "departed") == [ROLE_DETECTIONS_BEFORE]
    assert row_roles("aircraft", None) == [ROLE_DETECTIONS_BEFORE, ROLE_DETECTIONS_AFTER]
    assert row_roles(None, None) == [ROLE_DETECTIONS_BEFORE, ROLE_DETECTIONS_AFTER, ROLE_REGIONS]


def test_an_analysis_to_reopen_and_what_the_panel_says(site, tmp_path):
    from types import SimpleNamespace

    from sitewatch.plugin.gui.controller import done_text, record_to_open, site_info_text
    from sitewatch.plugin.store.workspace import AnalysisRecord

    kept, gone = (AnalysisRecord(id=name, time="2024-03-07T12:00:00+00:00", title=name, before_path="b.tif",
                                 after_path="a.tif", before_date="2024-01-05", after_date="2024-03-07",
                                 gpkg_path=str(tmp_path / f"{name}.gpkg")) for name in ("kept", "gone"))
    Path(kept.gpkg_path).write_bytes(b"")
    for record in (kept, gone):
        site.workspace().add_analysis(record)
    assert record_to_open(site, "kept").gpkg_path == kept.gpkg_path
    assert record_to_open(site, "unknown") is None and record_to_open(None, "kept") is None
    with pytest.raises(ValueError, match="gone from disk"):
        record_to_open(site, "gone")
    assert site_info_text("8,106 m²", 1) == "8,106 m² · 1 analysis so far"
    assert site_info_text("1.20 km²", 0) == "1.20 km² · 0 analyses so far"
    assert done_text(SimpleNamespace(timings_s={"change": 2.4, "equipment": 1.3})) == "Done in 4 s."
    assert done_text(SimpleNamespace(timings_s={})) == "Done."
