"""How `make demo` scores a run against the sample site's truth (tools/demo.py)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from osgeo import ogr

import demo


def _box(x0: float, y0: float, x1: float, y1: float):
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)):
        ring.AddPoint_2D(x, y)
    poly = ogr.Geometry(ogr.wkbPolygon)
    poly.AddGeometry(ring)
    return poly


def _at(x: float, y: float, name: str = "truck"):
    return SimpleNamespace(cx=x, cy=y, class_name=name)


# a 4.5 x 1.8 m car that left, one that stayed 20 m east, and a fighter that left
TRUTH = [(_box(0, 0, 4.5, 1.8), "vehicles", "departed"), (_box(20, 0, 24.5, 1.8), "vehicles", "stayed"),
         (_box(100, 0, 117, 15), "fighters and bombers", "departed")]


def test_a_detection_one_model_pixel_beside_a_cars_box_is_on_it():
    assert demo._on(TRUTH, _at(2.25, 0.9), "vehicles") == 0  # inside
    assert demo._on(TRUTH, _at(2.25, 2.6), "vehicles") == 0  # 0.8 m beside the box
    assert demo._on(TRUTH, _at(2.25, 2.6), "vehicles", margin_m=0.0) is None  # the strict rule
    assert demo._on(TRUTH, _at(2.25, 3.5), "vehicles") is None  # 1.7 m off: not this car
    assert demo._on(TRUTH, _at(2.25, 0.9), "fighters and bombers") is None  # another category
    assert demo._on(TRUTH, _at(22, 0.9), "vehicles", "departed") is None  # the car there stayed


def test_events_are_scored_on_the_objects_that_left():
    labels = {"truck": "vehicles", "su24": "fighters and bombers"}
    departed = [SimpleNamespace(class_name="truck", detection=_at(2.25, 2.6)),  # the car that left, 0.8 m off
                SimpleNamespace(class_name="truck", detection=_at(2.0, 1.0)),  # the same car again: not a second hit
                SimpleNamespace(class_name="truck", detection=_at(22, 0.9))]  # the car that stayed: wrong
    match = SimpleNamespace(labels=labels, by_event=lambda event: departed if event == "departed" else [])
    boxes = {"before": TRUTH, "after": []}
    tp, reported, true, f1 = demo.event_score(match, boxes, ["vehicles", "fighters and bombers"])
    assert (tp, reported, true) == (1, 3, 2) and f1 == pytest.approx(2 * (1 / 3) * 0.5 / (1 / 3 + 0.5))
    assert demo.event_score(match, boxes, ["vehicles"])[:3] == (1, 3, 1)


def test_the_result_maps_summary_wraps_an_entry_after_a_comma_under_its_own_start():
    from render_demo import panel_lines

    lines = ["Equipment (before -> after):", "  vehicles: 87 -> 82, 27 arrived, 32 departed, 3 moved, 52 stayed", ""]
    assert panel_lines(lines, 40) == [
        "Equipment (before -> after):",
        "  vehicles: 87 -> 82, 27 arrived,",
        "      32 departed, 3 moved, 52 stayed",
        "",
    ]
    # a phrase longer than the panel breaks between words, under the entry's start
    assert panel_lines(["  8 more regions left out: shadows moved by the sun"], 30) == [
        "  8 more regions left out:", "      shadows moved by the sun"]
    assert panel_lines(["Co-registration shift: -4.48, +3.53 px (confidence 0.88)"], 40) == [
        "Co-registration shift: -4.48, +3.53 px", "    (confidence 0.88)"]
