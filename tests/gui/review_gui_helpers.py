"""The review panel on a copy of the sample analysis, for the review GUI tests."""
from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path


def analysis_record(analysis: Path):
    from review_sample import AFTER_DATE, BEFORE_DATE

    from sitewatch.plugin.store.workspace import AnalysisRecord

    site = analysis.parent.parent / "site"
    return AnalysisRecord(
        id=analysis.name, time=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        title=f"SiteWatch: sample {BEFORE_DATE} -> {AFTER_DATE}", before_path=str(site / "before.tif"),
        after_path=str(site / "after.tif"), before_date=BEFORE_DATE, after_date=AFTER_DATE,
        gpkg_path=str(analysis / "analysis.gpkg"))


def copy_sample(sample_root: Path, target: Path) -> Path:
    """A private copy of the sample folder (site, analyses); returns the copied analysis folder."""
    from review_sample import ANALYSIS_ID

    shutil.copytree(sample_root, target)
    return target / "analyses" / ANALYSIS_ID


def open_panel(iface, analysis: Path):
    """(panel, group) on the analysis, its layers in the project, the workspace beside the analyses."""
    from sitewatch.plugin.gui.review.opener import ShownAnalysis, open_review_panel
    from sitewatch.plugin.layers.analysis_layers import AnalysisOutputs, add_analysis_layers

    record = analysis_record(analysis)
    group = add_analysis_layers(AnalysisOutputs.from_record(record))
    workspace = analysis.parent.parent / "workspace.gpkg"
    panel = open_review_panel(iface, ShownAnalysis(str(workspace), record, group))
    return panel, group
