"""Each model shipped in resources/models/ runs through qgis_process on small generated captures."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from osgeo import ogr

QGIS_PROCESS = "/usr/bin/qgis_process.bin"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path(QGIS_PROCESS).exists(), reason="qgis_process.bin not installed")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    env = dict(os.environ, HOME=str(home), QGIS_PLUGINPATH=str(ROOT / "build" / "pkg"), QT_QPA_PLATFORM="offscreen",
               QGIS_CUSTOM_CONFIG_PATH=str(home / "profile"))
    enable = subprocess.run([QGIS_PROCESS, "plugins", "enable", "sitewatch"], env=env, capture_output=True, text=True,
                            timeout=180)
    assert enable.returncode == 0, enable.stderr
    return env


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    from sitewatch.plugin.samplesite import generate_site_series
    from sitewatch.plugin.samplesite.examples import write_example_boxes

    root = tmp_path_factory.mktemp("models")
    series = generate_site_series(root / "captures", n_dates=3, size_px=512, seed=7)
    write_example_boxes(series.site, root / "examples.geojson")
    return series


def _run(env, alg_id: str, args: dict) -> str:
    cmd = [QGIS_PROCESS, "run", alg_id, "--"] + [f"{k}={v}" for k, v in args.items()]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _features(path: Path) -> int:
    ds = ogr.Open(str(path))
    assert ds is not None, path
    return ds.GetLayer(0).GetFeatureCount()


def test_models_are_listed(env):
    listing = subprocess.run([QGIS_PROCESS, "list"], env=env, capture_output=True, text=True, timeout=180).stdout
    for path in sorted((ROOT / "resources" / "models").glob("*.model3")):
        assert f"sitewatch:{path.stem}" in listing


def test_site_analysis_model(env, series, tmp_path):
    site = series.site
    out = _run(env, "sitewatch:siteanalysismodel", {
        "before": site.before, "after": site.after, "aoi": site.aoi,
        "exemplars": series.root.parent / "examples.geojson", "min_score": 0.5, "max_distance": 20,
        "changes:Change score": tmp_path / "score.tif", "changes:Change regions": tmp_path / "regions.gpkg",
        "compare:Equipment events": tmp_path / "events.gpkg", "compare:Counts per class": tmp_path / "counts.gpkg"})
    assert (tmp_path / "score.tif").exists() and _features(tmp_path / "regions.gpkg") > 0
    assert _features(tmp_path / "events.gpkg") > 0 and _features(tmp_path / "counts.gpkg") > 0
    assert "compare:Counts per class" in out


def test_site_timeline_model(env, series, tmp_path):
    _run(env, "sitewatch:sitetimelinemodel", {
        "folder": series.root, "aoi": series.site.aoi, "exemplars": series.root.parent / "examples.geojson",
        "min_score": 0.5, "max_distance": 20,
        "timeline:Counts per date": tmp_path / "counts.gpkg", "timeline:Events between dates": tmp_path / "events.gpkg",
        "timeline:Chart": tmp_path / "chart.png", "timeline:Interactive chart": tmp_path / "timeline.html"})
    ds = ogr.Open(str(tmp_path / "counts.gpkg"))
    dates = {f.GetField("date") for f in ds.GetLayer(0)}
    assert dates == {c.when.strftime("%Y-%m-%d") for c in series.captures}
    assert (tmp_path / "chart.png").stat().st_size > 5000
    assert "<svg" in (tmp_path / "timeline.html").read_text()
