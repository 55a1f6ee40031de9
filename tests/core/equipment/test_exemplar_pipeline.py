"""The two-date analysis with the exemplar engine: both dates searched side by side give what one
after the other gives; the examples' capture is checked."""
from __future__ import annotations

from pathlib import Path

import pytest

from sitewatch.plugin.core import pipeline
from sitewatch.plugin.core.errors import InputError
from sitewatch.plugin.core.pipeline import AnalysisParameters, ChangeOptions, EquipmentOptions, run_analysis


@pytest.fixture(scope="module")
def small_site(tmp_path_factory):
    from sitewatch.plugin.samplesite import generate_sample_site

    return generate_sample_site(tmp_path_factory.mktemp("site"), size_px=640, seed=5)


def _examples(site, path: Path) -> str:
    from sitewatch.plugin.samplesite.examples import write_example_boxes

    return str(write_example_boxes(site, path))


def _params(site, out: Path, examples: str, **equipment) -> AnalysisParameters:
    return AnalysisParameters(
        site_name="small", before_path=str(site.before), after_path=str(site.after), output_dir=str(out),
        change=ChangeOptions(enabled=False),
        equipment=EquipmentOptions(engine="exemplar", exemplars_path=examples, min_score=0.3, **equipment),
    )


def _summary(detections) -> list[tuple]:
    return [(d.class_name, round(d.cx, 3), round(d.cy, 3), round(d.score, 4)) for d in detections]


def test_dates_side_by_side_give_the_same_detections(small_site, tmp_path, monkeypatch):
    examples = _examples(small_site, tmp_path / "examples.geojson")
    reports = []

    def report(fraction, message):
        reports.append(fraction)
        return True

    from sitewatch.plugin.core.progress import Progress

    side_by_side = run_analysis(_params(small_site, tmp_path / "a", examples), Progress(report))
    monkeypatch.setattr(pipeline, "PARALLEL_DATES", False)
    in_turn = run_analysis(_params(small_site, tmp_path / "b", examples))
    assert side_by_side.detections_before and side_by_side.detections_after
    assert _summary(side_by_side.detections_before) == _summary(in_turn.detections_before)
    assert _summary(side_by_side.detections_after) == _summary(in_turn.detections_after)
    assert all(0.0 <= f <= 1.0 for f in reports) and reports[-1] == 1.0


def test_examples_capture_is_checked(small_site, tmp_path):
    examples = _examples(small_site, tmp_path / "examples.geojson")
    with pytest.raises(InputError, match="Known captures: before, after, each"):
        run_analysis(_params(small_site, tmp_path / "x", examples, exemplars_capture="sideways"))
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()
