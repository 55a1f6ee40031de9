"""A reviewable analysis of the sample site, for the review tests and bench_review.

    sample_analysis(folder) -> ReviewSample(site, analysis folder, workspace path)

The exemplar engine runs with the demo's example boxes and a low minimum score (0.3), so the
analysis holds the doubtful objects a review is for.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import pkgpath  # noqa: E402,F401

ANALYSIS_ID = "20241213T000000_sample"
BEFORE_DATE, AFTER_DATE = "2024-12-09", "2024-12-13"


@dataclass
class ReviewSample:
    site: object  # samplesite.SampleSite
    analysis: Path  # the analysis folder (its name is the analysis id)
    workspace: Path  # where the site workspace goes (not created here)


def sample_analysis(folder: Path, size_px: int = 768, seed: int = 3) -> ReviewSample:
    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions, run_analysis
    from sitewatch.plugin.samplesite import generate_sample_site
    from sitewatch.plugin.samplesite.examples import write_example_boxes

    folder = Path(folder)
    site = generate_sample_site(folder / "site", size_px=size_px, seed=seed)
    examples = write_example_boxes(site, folder / "exemplars.geojson")
    out = folder / "analyses" / ANALYSIS_ID
    run_analysis(AnalysisParameters(
        site_name="sample", before_path=str(site.before), after_path=str(site.after), output_dir=str(out),
        before_date=BEFORE_DATE, after_date=AFTER_DATE,
        equipment=EquipmentOptions(engine="exemplar", exemplars_path=str(examples), min_score=0.3)))
    return ReviewSample(site, out, folder / "workspace.gpkg")


def analysis_record(analysis: Path):
    """The workspace record of a sample analysis folder (as the panel writes it after a run)."""
    from datetime import datetime, timezone

    from sitewatch.plugin.store.workspace import AnalysisRecord

    site = analysis.parent.parent / "site"
    return AnalysisRecord(
        id=analysis.name, time=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        title=f"SiteWatch: sample {BEFORE_DATE} -> {AFTER_DATE}", before_path=str(site / "before.tif"),
        after_path=str(site / "after.tif"), before_date=BEFORE_DATE, after_date=AFTER_DATE,
        gpkg_path=str(analysis / "analysis.gpkg"))


def open_panel(iface, analysis: Path):
    """(review panel, layer group) on a sample analysis; the site workspace beside the analyses folder."""
    from sitewatch.plugin.gui.review.opener import ShownAnalysis, open_review_panel
    from sitewatch.plugin.layers.analysis_layers import AnalysisOutputs, add_analysis_layers

    record = analysis_record(analysis)
    group = add_analysis_layers(AnalysisOutputs.from_record(record))
    workspace = analysis.parent.parent / "workspace.gpkg"
    panel = open_review_panel(iface, ShownAnalysis(str(workspace), record, group))
    return panel, group


class HeadlessIface:
    """What the review panel needs of QGIS's interface outside QGIS: a map canvas and a message bar."""

    def __init__(self):
        from qgis.gui import QgsMapCanvas, QgsMessageBar

        self.canvas = QgsMapCanvas()
        self.canvas.resize(800, 600)
        self.bar = QgsMessageBar()

    def mapCanvas(self):  # noqa: N802
        return self.canvas

    def messageBar(self):  # noqa: N802
        return self.bar
