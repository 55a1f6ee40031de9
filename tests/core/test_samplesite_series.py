"""The sample site over N dates: dates 1 and 2 are the two-date site, later dates follow the story."""
from __future__ import annotations

import hashlib
import json

import pytest
from osgeo import gdal

from sitewatch.plugin.core.captures import capture_date
from sitewatch.plugin.core.errors import InputError
from sitewatch.plugin.samplesite import generate_sample_site, generate_site_series, load_site_series

SIZE = 1024  # the smallest scene whose aprons take heavy transports


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    return generate_site_series(tmp_path_factory.mktemp("series") / "site", n_dates=5, size_px=SIZE, seed=7)


def _digest(path) -> str:
    return hashlib.sha256(gdal.Open(str(path)).ReadRaster()).hexdigest()


def test_dates_one_and_two_are_the_two_date_site(series, tmp_path):
    plain = generate_sample_site(tmp_path / "plain", SIZE, seed=7)
    assert _digest(series.captures[0].raster) == _digest(plain.before)
    assert _digest(series.captures[1].raster) == _digest(plain.after)
    assert series.captures[0].truth.read_text() == plain.truth_before.read_text()
    assert series.captures[1].truth.read_text() == plain.truth_after.read_text()


def test_every_date_is_readable_with_its_truth(series):
    assert [c.index for c in series.captures] == [1, 2, 3, 4, 5]
    days = [capture_date(str(c.raster)).date for c in series.captures]
    assert days == sorted(days) and len(set(d.date() for d in days)) == 5
    for c in series.captures:
        features = json.loads(c.truth.read_text())["features"]
        assert sum(c.counts.values()) == len(features)
        assert gdal.Open(str(c.raster)).RasterCount == 4
    later = [_digest(c.raster) for c in series.captures[2:]]
    assert len(set(later)) == 3  # each later date is drawn anew


def test_the_story_transports_arrive_a_helicopter_is_dismantled_launchers_packed_up(series):
    c = [cap.counts for cap in series.captures]
    launchers = "air-defence launchers and radars"
    assert c[0].get(launchers, 0) > c[1].get(launchers, 0)
    assert c[1].get("helicopters", 0) - 1 == c[2].get("helicopters", 0)
    assert c[2].get("heavy transport", 0) > c[1].get("heavy transport", 0) > c[0].get("heavy transport", 0)
    assert c[4].get("vehicles", 0) < c[2].get("vehicles", 0)
    events = {(e["date_to"], e["category"]): e for e in series.events}
    date3 = series.captures[2].when.strftime("%Y-%m-%d")
    assert events[(date3, "helicopters")]["departed"] == 1
    assert events[(date3, "heavy transport")]["arrived"] >= 1


def test_reopened_series_matches(series):
    again = load_site_series(series.root)
    assert [c.counts for c in again.captures] == [c.counts for c in series.captures]


def test_missing_manifest_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="No site series"):
        load_site_series(tmp_path)
