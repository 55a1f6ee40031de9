"""The analyst's report: HTML with the PDF beside it, the PDF's first page rendered to PNG."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sitewatch.plugin.core.equipment.io import read_detections


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions, run_analysis
    from sitewatch.plugin.core.timeline import TimelineParameters, run_timeline
    from sitewatch.plugin.samplesite import generate_site_series
    from sitewatch.plugin.samplesite.examples import EXAMPLE_MIN_SCORE, write_example_boxes

    root = tmp_path_factory.mktemp("report")
    series = generate_site_series(root / "site", n_dates=3, size_px=512, seed=7)
    site = series.site
    examples = write_example_boxes(site, root / "examples.geojson")
    result = run_analysis(AnalysisParameters(
        site_name="Khmeimim (sample)", before_path=str(site.before), after_path=str(site.after),
        output_dir=str(root / "analysis"), before_date=site.before_date.date().isoformat(),
        after_date=site.after_date.date().isoformat(),
        equipment=EquipmentOptions(engine="exemplar", exemplars_path=str(examples), min_score=EXAMPLE_MIN_SCORE)))
    truth = {str(c.raster): c.truth for c in series.captures}
    timeline = run_timeline(TimelineParameters(
        "Khmeimim (sample)", [str(c.raster) for c in series.captures],
        reviewed=lambda path, date: read_detections(str(truth[path])) if date != series.captures[2].when.strftime(
            "%Y-%m-%d") else None, exemplars_path=str(examples), min_score=EXAMPLE_MIN_SCORE))
    return result, timeline


def test_report_html_pdf_and_first_page(qgis_app, analysed, tmp_path, test_output_dir):
    from sitewatch.plugin.report.report import ReviewShare, plugin_version, write_report

    result, timeline = analysed
    files = write_report(result, str(tmp_path / "khmeimim_report.html"), timeline=timeline,
                         review=ReviewShare(reviewed=3, total=12))
    page = open(files.html, encoding="utf-8").read()
    for text in ("Khmeimim (sample)", result.params.before_date, result.params.after_date, "before.tif",
                 "Counts per class", "Timeline over 3 captures", f"SiteWatch {plugin_version()}",
                 "3 of 12 detections reviewed", "Parameters:", "<svg"):
        assert text in page, text
    assert open(files.pdf, "rb").read(5) == b"%PDF-"
    assert len(files.images) == 3 and files.images[-1].endswith("timeline.png")
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", files.pdf], capture_output=True, text=True, check=True).stdout
        assert re.search(r"^Pages:\s+2$", info, re.M), info
    if not shutil.which("pdftoppm"):
        pytest.skip("pdftoppm (poppler-utils) is not installed: make setup installs it")
    shutil.copy(files.pdf, test_output_dir / "report.pdf")
    out = test_output_dir / "report_page1"
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", files.pdf, str(out)],
                   check=True, timeout=120)
    from qgis.PyQt.QtGui import QImage

    image = QImage(str(out) + ".png")
    assert image.width() > image.height() > 400  # landscape A4 at 60 dpi: 702 x 496
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 200  # maps drawn, not an empty page


def test_report_without_a_timeline_has_no_chart(qgis_app, analysed, tmp_path):
    from sitewatch.plugin.report.report import write_report

    result, _ = analysed
    files = write_report(result, str(tmp_path / "two_dates.html"))
    page = open(files.html, encoding="utf-8").read()
    assert "Timeline over" not in page and "not reviewed" in page
    assert len(files.images) == 2


def test_analyze_site_writes_the_report_with_the_sites_timeline(provider, analysed, tmp_path):
    """sitewatch:analyzesite's OUTPUT_REPORT: the second pair of a site whose history holds the
    first, so the report charts three dates."""
    import json

    from processing_helpers import run_algorithm

    from sitewatch.plugin.store.history import record_analysis
    from sitewatch.plugin.store.workspace import SiteWorkspace

    result, timeline = analysed
    site_dir = Path(result.params.before_path).parent
    aoi = json.loads((site_dir / "aoi.geojson").read_text())
    from osgeo import ogr

    polygon = ogr.CreateGeometryFromJson(json.dumps(aoi["features"][0]["geometry"])).ExportToWkt()
    workspace = SiteWorkspace.create(str(tmp_path / "site"), "Khmeimim", polygon, timeline.crs_wkt)
    record_analysis(workspace.path, result)
    results, _context, _alg = run_algorithm("sitewatch:analyzesite", {
        "BEFORE": str(site_dir / "after.tif"), "AFTER": str(site_dir / "capture_3.tif"), "WORKSPACE": workspace.path,
        "EXEMPLARS": str(_examples(site_dir)),
        "MIN_SCORE": 0.5, "DETECT_CHANGES": False, "OUTPUT_REPORT": str(tmp_path / "report.html")})
    assert results["OUTPUT_REPORT"] == str(tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Khmeimim: 2024-12-13 to 2024-12-18" in page and "Timeline over 3 captures" in page
    assert (tmp_path / "report.pdf").read_bytes()[:5] == b"%PDF-"


def _examples(site_dir: Path) -> Path:
    return site_dir.parent / "examples.geojson"


def test_report_of_a_saved_analysis_from_the_panel(qgis_app, analysed, tmp_path):
    from sitewatch.plugin.gui.timeline_widget import SiteTimelineWidget
    from sitewatch.plugin.report.saved import saved_result
    from sitewatch.plugin.store.workspace import AnalysisRecord

    result, _ = analysed
    saved = saved_result(result.output_dir)
    assert [(c.class_name, c.before, c.after) for c in saved.match.counts] == [
        (c.class_name, c.before, c.after) for c in result.match.counts]
    assert saved.change.n_regions == result.change.n_regions
    assert saved.params.equipment.min_score == result.params.equipment.min_score
    p = result.params
    record = AnalysisRecord("r1", "2024-12-14T10:00:00+00:00", result.title, p.before_path, p.after_path,
                            p.before_date, p.after_date, result.gpkg_path)
    widget = SiteTimelineWidget()
    widget.set_records("Khmeimim (sample)", [record])
    widget.pairs.selectRow(0)
    assert widget.report_button.isEnabled()
    files = widget.write_report("r1", str(tmp_path / "saved.html"))
    page = open(files.html, encoding="utf-8").read()
    assert "Counts per class" in page and p.before_date in page
    assert open(files.pdf, "rb").read(5) == b"%PDF-"
