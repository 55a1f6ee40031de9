"""Processing outputs opened on completion come styled (change score, regions, detections, events)."""
from __future__ import annotations

import gc
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gui"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "change"))
from analysis_fixtures import GSD, ORIGIN, capture_pair, write_examples  # noqa: E402
from change_helpers import textured, write_raster  # noqa: E402
from processing_helpers import run_algorithm  # noqa: E402


def _open(path: str):
    """A destination the way the Toolbox dialog passes it when 'Open output file' is ticked."""
    from qgis.core import QgsProcessingOutputLayerDefinition, QgsProject

    return QgsProcessingOutputLayerDefinition(path, QgsProject.instance())


def _run(alg_id: str, params: dict):
    results, context, alg = run_algorithm(alg_id, params)
    return alg, context, results


def _load_on_completion(alg, context) -> dict:
    """What the Toolbox does after a run: load the outputs, run their post-processors."""
    from processing.gui.Postprocessing import handleAlgorithmResults
    from qgis.core import QgsProcessingFeedback, QgsProject

    gc.collect()  # the post-processors must survive a collection between run and load
    before = set(QgsProject.instance().mapLayers())
    assert handleAlgorithmResults(alg, context, QgsProcessingFeedback())
    return {layer.source(): layer for lid, layer in QgsProject.instance().mapLayers().items() if lid not in before}


def _by_source(layers: dict, path: str):
    found = [layer for source, layer in layers.items() if source.split("|")[0] == path]
    assert len(found) == 1, (path, list(layers))
    return found[0]


def _box(x0, y0, x1, y1) -> str:
    mx0, my0, mx1, my1 = ORIGIN[0] + x0 * GSD, ORIGIN[1] - y0 * GSD, ORIGIN[0] + x1 * GSD, ORIGIN[1] - y1 * GSD
    return f"POLYGON(({mx0} {my1},{mx1} {my1},{mx1} {my0},{mx0} {my0},{mx0} {my1}))"


def _detections(name: str, rows) -> "object":
    from qgis.core import QgsFeature, QgsField, QgsGeometry, QgsVectorLayer
    from qgis.PyQt.QtCore import QVariant

    layer = QgsVectorLayer("Polygon?crs=EPSG:32636", name, "memory")
    layer.dataProvider().addAttributes([QgsField("class", QVariant.String), QgsField("score", QVariant.Double)])
    layer.updateFields()
    feats = []
    for cls, box in rows:
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromWkt(_box(*box)))
        f.setAttributes([cls, 0.9])
        feats.append(f)
    layer.dataProvider().addFeatures(feats)
    return layer


def test_detectchanges_score_and_regions_styled(provider, tmp_path):
    from qgis.core import QgsSingleBandPseudoColorRenderer, QgsSingleSymbolRenderer

    image = textured(128, 9)
    changed = image.copy()
    changed[:, 40:64, 30:70] = 240.0
    before, after = write_raster(tmp_path / "before.tif", image), write_raster(tmp_path / "after.tif", changed)
    score, mask, regions = (str(tmp_path / n) for n in ("score.tif", "mask.tif", "regions.gpkg"))
    alg, context, results = _run("sitewatch:detectchanges", {
        "BEFORE": before, "AFTER": after, "SENSITIVITY": 0.4, "MIN_AREA": 50.0, "COREGISTER": False,
        "OUTPUT_SCORE": _open(score), "OUTPUT_MASK": mask, "OUTPUT_REGIONS": _open(regions)})
    assert results["N_REGIONS"] == 1
    to_load = context.layersToLoadOnCompletion()
    assert set(to_load) == {score, regions}  # the mask was not asked for
    assert all(details.postProcessor() is not None for details in to_load.values())

    layers = _load_on_completion(alg, context)
    score_layer = _by_source(layers, score)
    renderer = score_layer.renderer()
    assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
    assert renderer.classificationMin() == pytest.approx(0.6)  # threshold = 1 - sensitivity
    items = renderer.shader().rasterShaderFunction().colorRampItemList()
    assert [round(i.value, 2) for i in items] == [0.6, 1.0]

    regions_layer = _by_source(layers, regions)
    assert isinstance(regions_layer.renderer(), QgsSingleSymbolRenderer)
    assert regions_layer.renderer().symbol().symbolLayer(0).brushStyle() == 0  # outline only
    assert regions_layer.labelsEnabled() and "area_m2" in regions_layer.labeling().settings().fieldName


def test_detectequipment_boxes_outlined_and_labelled(provider, tmp_path):
    from qgis.core import QgsSingleSymbolRenderer

    from analysis_fixtures import BEFORE_BOXES

    _before, after = capture_pair(tmp_path / "captures")
    examples = write_examples(tmp_path / "examples.gpkg", [BEFORE_BOXES[0]])
    out = str(tmp_path / "detections.gpkg")
    alg, context, results = _run("sitewatch:detectequipment", {
        "INPUT": str(after), "ENGINE": 0, "EXEMPLARS": str(examples), "MIN_SCORE": 0.5, "OUTPUT": _open(out)})
    assert results == {"OUTPUT": out}
    layer = _by_source(_load_on_completion(alg, context), out)
    assert layer.featureCount() >= 2 and layer.fields().indexOf("event") < 0
    renderer = layer.renderer()
    assert isinstance(renderer, QgsSingleSymbolRenderer)
    fill = renderer.symbol().symbolLayer(0)
    assert fill.brushStyle() == 0 and fill.strokeColor().alpha() == 255  # oriented boxes outlined
    settings = layer.labeling().settings()
    assert layer.labelsEnabled() and settings.isExpression
    assert '"class"' in settings.fieldName and '"score"' in settings.fieldName


def test_compareequipment_events_categorized(provider, tmp_path):
    from qgis.core import QgsCategorizedSymbolRenderer

    before = _detections("before", [("vehicle", (30, 30, 46, 38)), ("vehicle", (120, 40, 136, 48))])
    after = _detections("after", [("vehicle", (30, 30, 46, 38)), ("vehicle", (100, 140, 116, 148))])
    out, counts = str(tmp_path / "events.gpkg"), str(tmp_path / "counts.gpkg")
    alg, context, _results = _run("sitewatch:compareequipment", {
        "BEFORE": before, "AFTER": after, "MAX_DISTANCE": 5.0, "OUTPUT": _open(out), "OUTPUT_COUNTS": _open(counts)})
    to_load = context.layersToLoadOnCompletion()
    assert to_load[out].postProcessor() is not None
    assert to_load[counts].postProcessor() is None  # the counts table keeps the default look
    layer = _by_source(_load_on_completion(alg, context), out)
    renderer = layer.renderer()
    assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == "event"
    events = {f["event"] for f in layer.getFeatures()}
    assert events == {"stayed", "arrived", "departed"}
    assert events <= {c.value() for c in renderer.categories()}
    assert layer.labelsEnabled()


def test_outputs_not_opened_are_left_alone(provider, tmp_path):
    from qgis.core import QgsProcessingContext

    from sitewatch.plugin.layers.postprocess import style_output_on_completion

    before = _detections("before", [("vehicle", (30, 30, 46, 38))])
    after = _detections("after", [("vehicle", (30, 30, 46, 38))])
    _alg, context, _results = _run("sitewatch:compareequipment", {
        "BEFORE": before, "AFTER": after, "OUTPUT": str(tmp_path / "e.gpkg"), "OUTPUT_COUNTS": str(tmp_path / "c.gpkg")})
    assert context.layersToLoadOnCompletion() == {}
    fresh = QgsProcessingContext()
    assert not style_output_on_completion(fresh, str(tmp_path / "e.gpkg"), "detections.qml")
    assert fresh.layersToLoadOnCompletion() == {}  # asking must not add the layer to load


def test_event_style_on_plain_detections_falls_back(qgis_app):
    from qgis.core import QgsCategorizedSymbolRenderer, QgsSingleSymbolRenderer

    from sitewatch.plugin.layers.postprocess import apply_output_style

    plain = _detections("plain", [("vehicle", (30, 30, 46, 38))])
    assert apply_output_style(plain, "detections.qml")
    assert isinstance(plain.renderer(), QgsSingleSymbolRenderer) and plain.labelsEnabled()
    events = _detections("events", [("vehicle", (30, 30, 46, 38))])
    from qgis.core import QgsField
    from qgis.PyQt.QtCore import QVariant

    events.dataProvider().addAttributes([QgsField("event", QVariant.String)])
    events.updateFields()
    assert apply_output_style(events, "detections.qml")
    assert isinstance(events.renderer(), QgsCategorizedSymbolRenderer)
