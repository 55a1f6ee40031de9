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
    assert "analysis finished" in log
