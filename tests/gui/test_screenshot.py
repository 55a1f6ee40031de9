"""QGIS desktop under a virtual display: the panel after an analysis, saved as a PNG."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QGIS_BIN = Path("/usr/bin/qgis.bin")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("xvfb-run") is None or not QGIS_BIN.exists(), reason="needs xvfb-run and qgis.bin")
def test_screenshot_of_panel_with_results(test_output_dir, tmp_path):
    from qgis.PyQt.QtGui import QImage

    out = test_output_dir / "screenshot.png"
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)  # a real (virtual) display, not offscreen
    env.update(SITEWATCH_SHOT_OUT=str(out), SITEWATCH_SHOT_SIZE=env.get("SITEWATCH_SHOT_SIZE", "512"),
               SITEWATCH_SHOT_TIMEOUT="150")
    profiles = tmp_path / "profiles"  # a fresh profile: no other plugins, no first-run state
    profiles.mkdir()
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1680x1050x24", str(QGIS_BIN), "--nologo", "--noversioncheck",
           "--profiles-path", str(profiles), "--code", str(ROOT / "tools" / "screenshot.py")]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=175)
    log = out.with_suffix(".log").read_text() if out.with_suffix(".log").exists() else ""
    assert proc.returncode == 0, f"QGIS exited with {proc.returncode}\n{log}\n{proc.stderr[-2000:]}"
    assert out.is_file(), log
    image = QImage(str(out))
    assert image.width() >= 1200 and image.height() >= 800
    # not blank: many distinct colours across a grid of samples
    colours = {image.pixel(x, y) for x in range(0, image.width(), 17) for y in range(0, image.height(), 17)}
    assert len(colours) > 500, f"only {len(colours)} colours: the screenshot looks blank"
    # the run from the panel succeeded ...
    finished = [line for line in log.splitlines() if "analysis finished" in line]
    assert finished and ": Done" in finished[0] and "Failed" not in log, log
    # ... and the counts it shows are those of its GeoPackage and of objects that are there
    work = out.parent / "screenshot-work"
    gpkg = max(work.rglob("analysis.gpkg"), key=lambda p: p.stat().st_mtime)
    site = work / f"site-{env['SITEWATCH_SHOT_SIZE']}"
    _assert_counts_true(gpkg, site, _summary_counts(log))


def _summary_counts(log: str) -> dict:
    """{label: (before, after)} from the panel's summary ('helicopters: 2 -> 2, 2 stayed')."""
    import re

    summary = next(line for line in log.splitlines() if " summary: " in line)
    found = re.findall(r"\|\s+([^|:]+): (\d+) -> (\d+)", summary)
    assert found, summary
    return {label.strip(): (int(b), int(a)) for label, b, a in found}


def _assert_counts_true(gpkg: Path, site: Path, shown: dict) -> None:
    """The panel's counts equal the GeoPackage's detections per category and date; every
    detection lies on a true object of its category (the sample site's truth), and at least
    half of the true objects of the example categories are found on each date."""
    from sample_truth import detections_on_truth, true_objects

    from sitewatch.plugin.samplesite.examples import EXAMPLE_CATEGORIES

    found = detections_on_truth(gpkg, site)
    wanted = true_objects(site, EXAMPLE_CATEGORIES)
    for k, date in enumerate(("before", "after")):
        assert {label: n[k] for label, n in shown.items() if n[k]} == found[date], (date, shown, found)
        assert sum(found[date].values()) >= 0.5 * wanted[date], f"{date}: {found[date]} of {wanted[date]} true objects"
