"""sitewatch:detectchanges needs only BEFORE, AFTER and OUTPUT_MASK: the score and the regions
are optional outputs, skipped when not named (qgis_process on QGIS 3.22 refuses a run that
leaves a required output unnamed)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from osgeo import gdal

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "change"))
from change_helpers import textured, write_raster  # noqa: E402
from processing_helpers import run_algorithm  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LEVIR = REPO.parent / "shared" / "data" / "levir-cd-samples"
QGIS_PROCESS = "/usr/bin/qgis_process.bin"


def test_only_the_mask_named(provider, tmp_path):
    from qgis.core import QgsApplication

    before = textured(256, 9)
    after = before.copy()
    after[:, 100:124, 60:100] = 240.0
    b = write_raster(tmp_path / "before.tif", before)
    a = write_raster(tmp_path / "after.tif", after)
    alg = QgsApplication.processingRegistry().algorithmById("sitewatch:detectchanges")
    required = [p.name() for p in alg.destinationParameterDefinitions()
                if not p.flags() & p.Flag.FlagOptional]
    assert required == ["OUTPUT_MASK"]
    out = tmp_path / "out"
    out.mkdir()
    mask = str(out / "mask.tif")
    results = run_algorithm("sitewatch:detectchanges", {"BEFORE": b, "AFTER": a, "OUTPUT_MASK": mask,
                                                        "COREGISTER": False})[0]
    assert results == {"OUTPUT_MASK": mask, "N_REGIONS": 1, "CHANGED_AREA_M2": pytest.approx(240, rel=0.35)}
    assert sorted(os.listdir(out)) == ["mask.tif"]  # nothing else left behind
    assert (gdal.Open(mask).ReadAsArray()[100:124, 60:100] == 1).mean() > 0.9


def _qgis_process_env(tmp_path) -> dict:
    """The environment of a qgis_process run with SiteWatch enabled, in a profile of its own (the
    test session's QGIS settings may name the plugin enabled already)."""
    plugins, home = tmp_path / "plugins", tmp_path / "home"
    plugins.mkdir()
    home.mkdir()
    (plugins / "sitewatch").symlink_to(REPO, target_is_directory=True)
    env = dict(os.environ, HOME=str(home), QGIS_PLUGINPATH=str(plugins), QT_QPA_PLATFORM="offscreen",
               QGIS_CUSTOM_CONFIG_PATH=str(home), QGIS_OPTIONS_PATH=str(home))
    subprocess.run([QGIS_PROCESS, "plugins", "enable", "sitewatch"], env=env, check=True, capture_output=True,
                   timeout=120)
    return env


def _only_the_mask(tmp_path, before, after, said: str) -> None:
    """sitewatch:detectchanges through qgis_process with only BEFORE, AFTER and OUTPUT_MASK: exit 0,
    `said` in its output, a 256 x 256 mask with some change and not all."""
    mask = tmp_path / "mask.tif"
    run = subprocess.run([QGIS_PROCESS, "run", "sitewatch:detectchanges", "--", f"BEFORE={before}",
                          f"AFTER={after}", f"OUTPUT_MASK={mask}"],
                         env=_qgis_process_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert said in run.stdout + run.stderr
    values = gdal.Open(str(mask)).ReadAsArray()
    assert values.shape == (256, 256) and 0.02 < (values == 1).mean() < 0.6


@pytest.mark.skipif(not (LEVIR / "label").is_dir(), reason=f"real data not found: {LEVIR}")
@pytest.mark.skipif(not os.path.exists(QGIS_PROCESS), reason=f"{QGIS_PROCESS} not found")
def test_qgis_process_with_only_the_mask_on_a_levir_pair(tmp_path):
    """A heavily changed real pair (no shift window correlates): the run keeps the
    georeferenced alignment, says so, and writes the mask."""
    name = "test_2_0000_0000.png"
    for side in ("A", "B"):  # the chips carry no georeferencing: 0.5 m pixels in UTM, as a GeoTIFF
        gdal.Translate(str(tmp_path / f"{side}.tif"), str(LEVIR / side / name), outputSRS="EPSG:32633",
                       outputBounds=[500000.0, 4000128.0, 500128.0, 4000000.0])
    _only_the_mask(tmp_path, tmp_path / "A.tif", tmp_path / "B.tif", "Co-registration: not estimated")


@pytest.mark.skipif(not (LEVIR / "label").is_dir(), reason=f"real data not found: {LEVIR}")
@pytest.mark.skipif(not os.path.exists(QGIS_PROCESS), reason=f"{QGIS_PROCESS} not found")
def test_qgis_process_on_a_raw_levir_png_pair(tmp_path):
    """The chips as they come (PNG, no georeferencing, no PIXEL_SIZE): the run compares them on
    their pixel grid, says that areas are in pixels, and writes the mask."""
    name = "test_2_0000_0000.png"
    _only_the_mask(tmp_path, LEVIR / "A" / name, LEVIR / "B" / name,
                   "no PIXEL_SIZE was given: areas are measured in pixels")
