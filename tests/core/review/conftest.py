"""One real analysis of a tiny generated site, shared by the review tests (read-only: copy it)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def analysed_site(tmp_path_factory):
    """(site, analysis folder) of one run of the exemplar engine on a 768 px sample site."""
    from sitewatch.plugin.core.pipeline import AnalysisParameters, EquipmentOptions, run_analysis
    from sitewatch.plugin.samplesite import generate_sample_site

    root = tmp_path_factory.mktemp("review-site")
    site = generate_sample_site(root / "site", size_px=768, seed=3)
    truth = json.loads(Path(site.truth_before).read_text())
    seen, keep = set(), []
    for feature in truth["features"]:
        if feature["properties"]["class"] not in seen:
            seen.add(feature["properties"]["class"])
            keep.append({"type": "Feature", "geometry": feature["geometry"],
                         "properties": {"class": feature["properties"]["class"]}})
    truth["features"] = keep
    examples = root / "exemplars.geojson"
    examples.write_text(json.dumps(truth))
    out = root / "analyses" / "20240101T000000_abc123"
    run_analysis(AnalysisParameters(
        site_name="tiny", before_path=str(site.before), after_path=str(site.after), output_dir=str(out),
        before_date="2024-12-09", after_date="2024-12-13",
        equipment=EquipmentOptions(engine="exemplar", exemplars_path=str(examples))))
    return site, out


@pytest.fixture
def analysis_copy(analysed_site, tmp_path):
    """A private copy of the shared analysis folder (tests may write into it)."""
    _site, out = analysed_site
    copy = tmp_path / "analyses" / out.name
    shutil.copytree(out, copy)
    return copy
