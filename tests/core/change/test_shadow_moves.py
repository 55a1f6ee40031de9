"""Change regions that are only a shadow moved by the sun: the region test, the sun angles read
from the captures, and the pipeline dropping such regions on the sample site."""
from __future__ import annotations

import json

import numpy as np
import pytest
from osgeo import gdal

pytest.importorskip("scipy", reason="the shadow-move test uses scipy.ndimage (optional)")


def _window(before_region, after_region):
    """A 40 x 40 window of ground (100) with a bright caster (220, both dates) in rows 8-11, just
    north of a 12 x 20 px region in rows 12-23; region values given per date."""
    before = np.full((3, 40, 40), 100.0, np.float32)
    before[:, 8:12, 10:30] = 220.0
    after = before.copy()
    before[:, 12:24, 10:30] = before_region
    after[:, 12:24, 10:30] = after_region
    region = np.zeros((40, 40), bool)
    region[12:24, 10:30] = True
    return region, before, after


def test_a_moved_shadow_is_recognised_but_departed_objects_are_not():
    from sitewatch.plugin.core.change.shadows import Sun, is_shadow_move

    sun = Sun(0.0, 40.0)  # from the north: the caster lies up-sun (above) the region
    valid = np.ones((40, 40), bool)
    half_shadow = np.full((12, 20), 100.0, np.float32)
    half_shadow[:, :10] = 40.0
    moved, before, after = _window(half_shadow, half_shadow[:, ::-1])  # the shadow slid east
    assert is_shadow_move(moved, moved, valid, before, after, (sun, sun))
    dark, before, after = _window(40.0, 100.0)  # a dark vehicle left: one way only
    assert not is_shadow_move(dark, dark, valid, before, after, (sun, sun))
    bright, before, after = _window(200.0, 100.0)  # a bright aircraft left: its body is not ground
    assert not is_shadow_move(bright, bright, valid, before, after, (sun, sun))


def test_sun_angles_come_from_metadata_or_an_imd_sidecar(tmp_path):
    from change_helpers import textured, write_raster

    from sitewatch.plugin.core.captures import capture_sun

    tagged = write_raster(tmp_path / "tagged.tif", textured(32, 1))
    ds = gdal.Open(tagged, gdal.GA_Update)
    ds.SetMetadata({"SUN_AZIMUTH": "164.57", "SUN_ELEVATION": "30.18"})
    ds = None
    assert capture_sun(tagged) == pytest.approx((164.57, 30.18))
    plain = write_raster(tmp_path / "plain.tif", textured(32, 1))
    assert capture_sun(plain) is None
    (tmp_path / "plain.IMD").write_text("BEGIN_GROUP = IMAGE_1\n\tmeanSunAz = 201.5;\n\tmeanSunEl = 44.0;\nEND_GROUP = IMAGE_1\n")
    assert capture_sun(plain) == (201.5, 44.0)


@pytest.fixture(scope="module")
def site_2048(tmp_path_factory):
    from sitewatch.plugin.samplesite import generate_sample_site

    return generate_sample_site(tmp_path_factory.mktemp("shadows") / "site", size_px=2048, seed=7)


def test_the_pipeline_drops_moved_shadows_of_aircraft_that_stayed(site_2048, tmp_path):
    from osgeo import ogr

    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    truth = gdal.Open(str(site_2048.change_mask)).ReadAsArray() > 0
    runs = {}
    for drop in (False, True):
        runs[drop] = detect_changes(ChangeParameters(str(site_2048.before), str(site_2048.after), str(tmp_path / str(drop)),
                                                     cloud_mask_after=str(site_2048.cloud_mask), drop_shadow_moves=drop))
    kept, filtered = runs[False], runs[True]
    assert kept.shadow_moves_dropped == 0 and filtered.shadow_moves_dropped >= 1
    assert filtered.n_regions == kept.n_regions - filtered.shadow_moves_dropped
    regions_ds = ogr.Open(filtered.regions_path)
    assert regions_ds.GetLayerByName("change_regions").GetFeatureCount() == filtered.n_regions == len(filtered.regions)
    regions_ds = None
    mask_kept = gdal.Open(kept.mask_path).ReadAsArray() == 1
    mask = gdal.Open(filtered.mask_path).ReadAsArray() == 1
    removed = mask_kept & ~mask
    assert removed.any() and not (mask & ~mask_kept).any()
    assert (removed & truth).sum() < 0.05 * removed.sum()  # what went was not a real change
    assert filtered.changed_area_m2 == pytest.approx(mask.sum() * 0.25, rel=0.02)
    # the sun angles of the captures are what enables the test
    meta = json.loads((site_2048.before.parent / "site.json").read_text())
    assert meta["captures"]["before"]["sun_azimuth_deg"] != meta["captures"]["after"]["sun_azimuth_deg"]


def test_the_region_test_works_in_ground_units():
    from sitewatch.plugin.core.change.shadows import Sun, is_shadow_move

    sun = Sun(0.0, 40.0)
    half_shadow = np.full((12, 20), 100.0, np.float32)
    half_shadow[:, :10] = 40.0

    def finer(array):  # the same scene at 0.25 m
        return np.repeat(np.repeat(array, 2, axis=-2), 2, axis=-1)

    moved, before, after = _window(half_shadow, half_shadow[:, ::-1])
    valid = np.ones((80, 80), bool)
    assert is_shadow_move(finer(moved), finer(moved), valid, finer(before), finer(after), (sun, sun), pixel_m=0.25)
    dark, before, after = _window(40.0, 100.0)
    assert not is_shadow_move(finer(dark), finer(dark), valid, finer(before), finer(after), (sun, sun), pixel_m=0.25)
