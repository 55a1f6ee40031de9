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
