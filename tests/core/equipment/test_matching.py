"""Cross-date matching: optimal assignment, events, counts, summaries, change regions."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from sitewatch.plugin.core.equipment.catalogue import load_catalogue
from sitewatch.plugin.core.equipment.detection import Detection
from sitewatch.plugin.core.equipment.matching import hungarian, linear_assignment, match_detections
from sitewatch.plugin.core.errors import InputError


def det(x, y, cls="su24", score=0.9):
    return Detection(cx=x, cy=y, length_m=20, width_m=15, heading_deg=0, class_name=cls, score=score, engine="t")


def brute_force(cost):
    n, m = cost.shape
    best = np.inf
    if n <= m:
        for perm in itertools.permutations(range(m), n):
            best = min(best, sum(cost[i, perm[i]] for i in range(n)))
    else:
        for perm in itertools.permutations(range(n), m):
            best = min(best, sum(cost[perm[j], j] for j in range(m)))
    return best


@pytest.mark.parametrize("seed", range(25))
def test_hungarian_is_optimal_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(1, 6, size=2)
    cost = rng.integers(0, 20, size=(n, m)).astype(float) if seed % 2 else rng.random((n, m)) * 100
    rows, cols = hungarian(cost)
    assert len(rows) == min(n, m) == len(set(cols.tolist())) == len(set(rows.tolist()))
    assert cost[rows, cols].sum() == pytest.approx(brute_force(cost))


def test_numpy_fallback_equals_scipy():
    scipy_opt = pytest.importorskip("scipy.optimize")
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, m = rng.integers(1, 30, size=2)
        cost = rng.random((n, m)) * 50
        r1, c1 = hungarian(cost)
        r2, c2 = scipy_opt.linear_sum_assignment(cost)
        assert cost[r1, c1].sum() == pytest.approx(cost[r2, c2].sum())
    r, c = linear_assignment(np.array([[1.0, 0.0], [0.0, 1.0]]))
    assert list(c) == [1, 0]


def test_hungarian_empty_and_bad():
    r, c = hungarian(np.zeros((0, 3)))
    assert len(r) == len(c) == 0
    with pytest.raises(InputError):
        hungarian(np.array([[np.inf]]))


def test_events_and_counts():
    before = [det(0, 0), det(100, 0), det(200, 0, "mi8"), det(300, 300, "il76")]
    after = [det(1, 1), det(110, 0), det(500, 500, "il76"), det(600, 600, "il76"), det(200.5, 0, "mi24")]
    res = match_detections(before, after, max_distance_m=20, stay_tolerance_m=3)
    kinds = sorted((e.event, e.class_name) for e in res.events)
    assert kinds == [("arrived", "il76"), ("arrived", "il76"), ("departed", "il76"), ("moved", "su24"),
                     ("stayed", "mi24"), ("stayed", "su24")]
    moved = res.by_event("moved")[0]
    assert moved.distance_m == pytest.approx(10.0) and moved.before is before[1] and moved.after is after[1]
    counts = {c.class_name: c for c in res.counts}
    il = counts["il76"]
    assert (il.before, il.after, il.delta, il.arrived, il.departed, il.stayed, il.moved) == (1, 2, 1, 2, 1, 0, 0)
    su = counts["su24"]
    assert (su.before, su.after, su.stayed, su.moved) == (2, 2, 1, 1)
    lines = res.summary_lines()
    assert "heavy transport: 1 -> 2, 2 arrived, 1 departed" in lines
    assert "fighters and bombers: 2 -> 2, 1 moved, 1 stayed" in lines
    # mi8 -> mi24: same detector class (helicopter); counted under their own classes, one label
    assert "helicopters: 1 -> 1, 1 stayed" in lines


def test_the_after_capture_shift_is_removed_before_comparing():
    before = [det(0, 0), det(100, 0)]
    after = [det(4, -3), det(104, -3)]  # the after capture sits 4 m east, 3 m south
    assert {e.event for e in match_detections(before, after).events} == {"moved"}
    res = match_detections(before, after, after_shift_m=(4.0, -3.0))
    assert {e.event for e in res.events} == {"stayed"}
    assert all(e.distance_m == pytest.approx(0.0) for e in res.events)
    assert (after[0].cx, after[0].cy) == (4, -3)  # the detections themselves are not moved


def test_class_compatibility_blocks_matches():
    res = match_detections([det(0, 0, "su24")], [det(0, 0, "mi8")])
    assert sorted(e.event for e in res.events) == ["arrived", "departed"]
    # unknown classes only match themselves
    res = match_detections([det(0, 0, "tank")], [det(1, 0, "tank"), det(0, 1, "crate")])
    assert sorted(e.event for e in res.events) == ["arrived", "stayed"]
    assert res.summary_lines() == ["crate: 0 -> 1, 1 arrived", "tank: 1 -> 1, 1 stayed"]


def test_distance_threshold():
    res = match_detections([det(0, 0)], [det(19.9, 0)], max_distance_m=20)
    assert [e.event for e in res.events] == ["moved"]
    res = match_detections([det(0, 0)], [det(20.1, 0)], max_distance_m=20)
    assert sorted(e.event for e in res.events) == ["arrived", "departed"]
    with pytest.raises(InputError):
        match_detections([], [], max_distance_m=0)


def test_assignment_is_global_not_greedy():
    # Greedy nearest-first would pair b0-a0 (1 m) and leave b1 unmatched; optimal pairs both.
    before = [det(0, 0), det(-15, 0)]
    after = [det(1, 0), det(14, 0)]
    res = match_detections(before, after, max_distance_m=20)
    assert sorted(e.event for e in res.events) == ["moved", "moved"]
    assert sum(e.distance_m for e in res.events) == pytest.approx(14 + 16)


def test_change_regions_flag_events():
    region = "POLYGON((90 -10, 130 -10, 130 10, 90 10, 90 -10))"
    res = match_detections([det(0, 0), det(100, 0)], [det(0, 0), det(120, 0)], change_regions_wkt=[region])
    flags = {e.event: e.in_change for e in res.events}
    assert flags == {"stayed": False, "moved": True}
    dets, extra = res.event_layer_data()
    assert extra["event"] == [e.event for e in res.events] and extra["in_change"].count(1) == 1


def test_custom_catalogue_labels():
    cat = load_catalogue()
    res = match_detections([], [det(0, 0, "an124")], catalogue=cat)
    assert res.summary_lines() == ["heavy transport: 0 -> 1, 1 arrived"]
