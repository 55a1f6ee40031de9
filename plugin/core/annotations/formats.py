"""The export and import formats, in the order the Toolbox offers them (a public contract)."""
from __future__ import annotations

from types import ModuleType

from ..errors import InputError
from . import coco, dota, geojson, yolo, yolo_oriented

FORMATS: dict[str, ModuleType] = {
    "COCO": coco,
    "YOLO": yolo,
    "YOLO oriented": yolo_oriented,
    "DOTA": dota,
    "GeoJSON": geojson,
}
FORMAT_NAMES = list(FORMATS)
ORIENTED = {"COCO", "YOLO oriented", "DOTA", "GeoJSON"}  # formats that keep a box's orientation
MAP_COORDINATES = {"GeoJSON"}  # formats whose boxes are in map coordinates, not image pixels


def format_module(name: str) -> ModuleType:
    try:
        return FORMATS[name]
    except KeyError:
        raise InputError(f"Unknown annotation format '{name}': use one of {', '.join(FORMAT_NAMES)}.") from None
