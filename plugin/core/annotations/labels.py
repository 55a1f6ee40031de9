"""Shared by the format modules: class lists, and datasets read by equipment.datasets turned into chips."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..equipment.datasets import AnnotatedImage
from .chips import Box, Chip


def class_list(chips: list[Chip]) -> list[str]:
    """The classes of the boxes, sorted (the class index of label formats)."""
    return sorted({b.class_name for c in chips for b in c.boxes})


def chips_from_images(images: list[AnnotatedImage]) -> list[Chip]:
    """Read datasets as chips: oriented corners where the source has them, else the box's corners."""
    chips = []
    for image in images:
        boxes = []
        for b in image.boxes:
            corners = np.asarray(b.corners if b.corners else
                                 [(b.x0, b.y0), (b.x1, b.y0), (b.x1, b.y1), (b.x0, b.y1)], dtype=float)[:4]
            boxes.append(Box(b.class_name, corners))
        chips.append(Chip(Path(image.path), 0, 0, boxes=boxes))
    return chips


def relative_image(chip: Chip, root: Path) -> str:
    return chip.path.relative_to(root).as_posix()
