"""YOLO: images/ and labels/ (one .txt per image, `class cx cy w h` normalised 0..1), data.yaml names.
Axis-aligned: an oriented box is written as its envelope."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..equipment.datasets import read_yolo
from .chips import Chip
from .labels import chips_from_images, class_list


def write(chips: list[Chip], root: Path, oriented: bool = False) -> Path:
    classes = class_list(chips)
    labels = root / "labels"
    labels.mkdir(parents=True, exist_ok=True)
    for chip in chips:
        lines = []
        for box in chip.boxes:
            k = classes.index(box.class_name)
            if oriented:
                values = [v for x, y in box.corners for v in (x / chip.width, y / chip.height)]
            else:
                x0, y0, x1, y1 = box.envelope
                values = [(x0 + x1) / 2 / chip.width, (y0 + y1) / 2 / chip.height,
                          (x1 - x0) / chip.width, (y1 - y0) / chip.height]
            lines.append(" ".join([str(k)] + [f"{v:.6f}" for v in values]))
        (labels / (chip.path.stem + ".txt")).write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    names = ", ".join(f"'{c}'" for c in classes)
    (root / "data.yaml").write_text(f"path: .\ntrain: images\nval: images\nnames: [{names}]\n", encoding="utf-8")
    (root / "classes.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    return root


def read(path: Path, images: Optional[Path] = None) -> list[Chip]:
    return [c for c in chips_from_images(read_yolo(path)) if c.boxes]
