"""sitewatch:sitetimeline over a folder of generated captures, as the Toolbox runs it."""
from __future__ import annotations

import pytest
from qgis.core import QgsVectorLayer
from qgis.PyQt.QtGui import QImage

from processing_helpers import run_algorithm


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    from sitewatch.plugin.samplesite import generate_site_series

    return generate_site_series(tmp_path_factory.mktemp("tl") / "site", n_dates=3, size_px=512, seed=7)


def test_timeline_over_a_folder(provider, series, tmp_path):
    from sitewatch.plugin.samplesite.examples import write_example_boxes

    examples = write_example_boxes(series.site, tmp_path / "examples.geojson")
    params = {
        "FOLDER": str(series.root), "AOI": str(series.site.aoi), "ENGINE": 0, "EXEMPLARS": str(examples),
        "MIN_SCORE": 0.5, "MAX_DISTANCE": 20.0,
        "OUTPUT_COUNTS": str(tmp_path / "counts.gpkg"), "OUTPUT_EVENTS": str(tmp_path / "events.gpkg"),
        "OUTPUT_CHART": str(tmp_path / "chart.png"), "OUTPUT_HTML": str(tmp_path / "timeline.html"),
    }
    results, _context, _alg = run_algorithm("sitewatch:sitetimeline", params)
    assert set(results) == {"OUTPUT_COUNTS", "OUTPUT_EVENTS", "OUTPUT_CHART", "OUTPUT_HTML"}
    counts = QgsVectorLayer(results["OUTPUT_COUNTS"], "counts", "ogr")
    rows = [(f["date"], f["class"], f["count"]) for f in counts.getFeatures()]
    dates = sorted({r[0] for r in rows})
    assert dates == [c.when.strftime("%Y-%m-%d") for c in series.captures]  # masks (no date) left out
    assert len(rows) == 3 * len({r[1] for r in rows}) and sum(r[2] for r in rows) > 0
    events = QgsVectorLayer(results["OUTPUT_EVENTS"], "events", "ogr")
    assert events.isValid() and [f.name() for f in events.fields()][-6:] == [
        "date_from", "date_to", "class", "event", "detector_class", "score"]
    assert {f["event"] for f in events.getFeatures()} <= {"arrived", "departed", "stayed", "moved"}
    image = QImage(results["OUTPUT_CHART"])
    assert image.width() == 1640 and image.height() == 840
    page = open(results["OUTPUT_HTML"]).read()
    assert "<svg" in page and all(d in page for d in dates)


def test_no_captures_is_refused(provider):
    from qgis.core import QgsApplication, QgsProcessingContext

    alg = QgsApplication.processingRegistry().createAlgorithmById("sitewatch:sitetimeline")
    ok, message = alg.checkParameterValues({"ENGINE": 1, "OUTPUT_COUNTS": "memory:", "OUTPUT_EVENTS": "memory:"},
                                           QgsProcessingContext())
    assert not ok and "CAPTURES" in message
