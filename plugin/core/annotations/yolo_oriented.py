"""YOLO oriented (Ultralytics OBB): as YOLO, with lines `class x1 y1 x2 y2 x3 y3 x4 y4` normalised 0..1."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from . import yolo
from .chips import Chip


def write(chips: list[Chip], root: Path) -> Path:
    return yolo.write(chips, root, oriented=True)


def read(path: Path, images: Optional[Path] = None) -> list[Chip]:
    return yolo.read(path, images)
