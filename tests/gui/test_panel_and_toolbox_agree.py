"""A run from the panel and the same run through sitewatch:analyzesite write the same outputs:
counts, detections with their events, change regions, summary and rasters."""
from __future__ import annotations

import hashlib
import sys
import time
from pathlib import Path

from osgeo import gdal, ogr
from qgis.core import Qgis, QgsProject

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "qgis"))
from processing_helpers import run_algorithm  # noqa: E402


def _wait(qgis_app, busy, timeout_s: float = 300.0) -> None:
    start = time.perf_counter()
    while busy():
        qgis_app.processEvents()
        time.sleep(0.01)
        assert time.perf_counter() - start < timeout_s, "did not finish in time"
    qgis_app.processEvents()


def _rows(gpkg: Path, layer: str) -> list[tuple]:
    """The features of a layer as sorted tuples of their values and geometry."""
    ds = ogr.Open(str(gpkg))
    rows = []
    for feature in ds.GetLayerByName(layer):
        values = tuple(sorted((k, round(v, 6) if isinstance(v, float) else v) for k, v in feature.items().items()))
        geometry = feature.GetGeometryRef()
        rows.append(values + ((geometry.ExportToWkt() if geometry is not None else ""),))
    return sorted(rows)


def _raster_hash(path: Path) -> str:
    ds = gdal.Open(str(path))
    digest = hashlib.sha256(str((ds.GetGeoTransform(), ds.GetProjection())).encode())
    for band in range(1, ds.RasterCount + 1):
        digest.update(ds.GetRasterBand(band).ReadAsArray().tobytes())
    return digest.hexdigest()


def test_panel_run_and_analyze_site_write_the_same_outputs(sample_dock, qgis_app, qgis_iface, qgis_processing, tmp_path):
    dock = sample_dock
    from qgis.core import QgsApplication

    from sitewatch.plugin.core.parameters import METHODS
    from sitewatch.plugin.processing.provider import SiteWatchProvider
    from sitewatch.plugin.layers.sample_layers import ROLE_PROPERTY, SAMPLE_GROUP

    # the panel: the sample site (two dates, example boxes, a cloud left out), then Run
    dock.open_sample_site()
    _wait(qgis_app, lambda: dock.sample_loader.busy)
    assert dock.run_button.isEnabled(), dock.plan_label.text()
    dock.run_analysis()
    _wait(qgis_app, lambda: dock.task is not None)
    assert qgis_iface.messageBar().get_messages(Qgis.MessageLevel.Critical) == []
    panel_dir = Path(dock.site.workspace().analyses()[0].gpkg_path).parent

    # the Toolbox: the same layers and the panel's settings, the site's workspace
    layers = {lyr.customProperty(ROLE_PROPERTY): lyr
              for lyr in (n.layer() for n in QgsProject.instance().layerTreeRoot().findGroup(SAMPLE_GROUP).findLayers())}
    change, equipment = dock.change_options.options(), dock.equipment_options.options()
    parameters = {
        "BEFORE": layers["before"].source(), "AFTER": layers["after"].source(),
        "LEAVE_OUT": layers["clouds"].source(), "EXEMPLARS": layers["examples"].source(),
        "WORKSPACE": dock.site.workspace_path, "OUTPUT_FOLDER": str(tmp_path / "toolbox"),
        "METHOD": list(METHODS).index(change.method), "SENSITIVITY": change.sensitivity,
        "MIN_AREA": change.min_area_m2, "MIN_SCORE": equipment.min_score,
    }
    registry = QgsApplication.processingRegistry()
    provider = SiteWatchProvider() if registry.providerById("sitewatch") is None else None
    if provider is not None:
        registry.addProvider(provider)
    try:
        results, _context, _alg = run_algorithm("sitewatch:analyzesite", parameters)
    finally:
        if provider is not None:
            registry.removeProvider(provider)
    toolbox_dir = Path(results["OUTPUT_FOLDER"])

    for layer in ("counts", "detections_before", "detections_after", "change_regions", "left_out"):
        panel_rows, toolbox_rows = _rows(panel_dir / "analysis.gpkg", layer), _rows(toolbox_dir / "analysis.gpkg", layer)
        assert panel_rows == toolbox_rows, layer
        assert panel_rows or layer == "left_out"
    for raster in ("change_score.tif", "change_mask.tif"):
        assert _raster_hash(panel_dir / raster) == _raster_hash(toolbox_dir / raster), raster
    summary = (panel_dir / "summary.txt").read_text(encoding="utf-8")
    assert summary == (toolbox_dir / "summary.txt").read_text(encoding="utf-8")
    assert results["SUMMARY"] == summary.rstrip("\n")
    assert "Left out on both dates" in summary
    # and the history of the site holds both runs
    assert len(dock.site.workspace().analyses()) == 2
