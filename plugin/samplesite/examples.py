"""Example boxes for the sample site: what an analyst would draw to start the exemplar engine."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence, Union

from ..core.errors import InputError
from .site import SampleSite

# Exemplar detections of the sample site scoring below this are dropped (the demo's setting).
EXAMPLE_MIN_SCORE = 0.5
EXAMPLE_CATEGORIES = ("heavy transport", "fighters and bombers", "helicopters", "air-defence launchers and radars")


def compared_categories(present: Iterable[str], engine: str) -> list[str]:
    """The categories a run on the sample site is compared with the truth in: every category
    present for the learned engine (the site's model learned each category of the reviewed
    captures), the example categories first; those with an example box for the exemplar engine."""
    present = set(present)
    first = [c for c in EXAMPLE_CATEGORIES if c in present]
    return first if engine == "exemplar" else first + sorted(present - set(EXAMPLE_CATEGORIES))


def write_example_boxes(site: SampleSite, out_path: Union[str, Path],
                        categories: Sequence[str] = EXAMPLE_CATEGORIES) -> Path:
    """Write one box per category (the lowest truth id of the before date) as a GeoJSON layer
    with a `class` field, in the site's CRS. Categories without an object are left out."""
    collection = json.loads(Path(site.truth_before).read_text(encoding="utf-8"))
    chosen: dict[str, dict] = {}
    for feature in sorted(collection["features"], key=lambda f: f["properties"]["id"]):
        props = feature["properties"]
        category = props.get("category")
        if category in categories and category not in chosen:
            chosen[category] = {"type": "Feature", "geometry": feature["geometry"],
                                "properties": {"class": props["class"], "category": category}}
    if not chosen:
        raise InputError(f"The sample site in {site.root} has no object of {', '.join(categories)}.")
    collection["features"] = [chosen[c] for c in categories if c in chosen]
    out = Path(out_path)
    out.write_text(json.dumps(collection), encoding="utf-8")
    return out
