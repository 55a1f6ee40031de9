"""Every detection and change region of an analysis has a stable id; each match names both ids."""
from __future__ import annotations

from osgeo import ogr

from sitewatch.plugin.core.pipeline import LAYER_AFTER, LAYER_BEFORE, LAYER_MATCHES, LAYER_REGIONS


def _ids(ds, layer):
    return [(f.GetFID(), f.GetField("object_id"), f.GetField("event") if layer != LAYER_REGIONS else None)
            for f in ds.GetLayerByName(layer)]


def test_objects_have_ids_and_matches_name_both(analysed_site):
    _site, out = analysed_site
    ds = ogr.Open(str(out / "analysis.gpkg"))
    seen = set()
    for layer in (LAYER_REGIONS, LAYER_BEFORE, LAYER_AFTER):
        rows = _ids(ds, layer)
        assert rows, layer
        for fid, object_id, _event in rows:
            assert object_id == f"{layer}:{fid}"  # unique within the analysis; the history prefixes its id
        seen |= {r[1] for r in rows}
    assert len(seen) == sum(ds.GetLayerByName(n).GetFeatureCount() for n in (LAYER_REGIONS, LAYER_BEFORE, LAYER_AFTER))
    events_before = {r[1]: r[2] for r in _ids(ds, LAYER_BEFORE)}
    events_after = {r[1]: r[2] for r in _ids(ds, LAYER_AFTER)}
    matches = [(f.GetField("before_id"), f.GetField("after_id"), f.GetField("event")) for f in ds.GetLayerByName(LAYER_MATCHES)]
    assert len(matches) == len({m[0] for m in matches if m[0]} | {m[1] for m in matches if m[1]}) - \
        sum(1 for m in matches if m[0] and m[1])
    pairs = [m for m in matches if m[0] and m[1]]
    assert pairs, "the sample site has objects that stayed"
    for before_id, after_id, event in matches:
        assert event in ("stayed", "moved", "arrived", "departed")
        if before_id:
            assert events_before[before_id] == event
        if after_id:
            assert events_after[after_id] == event
        assert bool(before_id) == (event != "arrived") and bool(after_id) == (event != "departed")
    # every detection is in exactly one match row
    assert sorted(m[0] for m in matches if m[0]) == sorted(events_before)
    assert sorted(m[1] for m in matches if m[1]) == sorted(events_after)
