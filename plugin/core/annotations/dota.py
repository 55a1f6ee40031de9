"""DOTA: images/ and labelTxt/ with `x1 y1 x2 y2 x3 y3 x4 y4 class difficult` lines in pixels."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..equipment.datasets import read_dota
from .chips import Chip
from .labels import chips_from_images


def write(chips: list[Chip], root: Path) -> Path:
    labels = root / "labelTxt"
    labels.mkdir(parents=True, exist_ok=True)
    for chip in chips:
        gsd = abs(chip.geotransform[1]) if chip.geotransform else None
        lines = ["imagesource:SiteWatch", f"gsd:{gsd:.4f}" if gsd else "gsd:null"]
        for box in chip.boxes:
            coords = " ".join(f"{v:.2f}" for x, y in box.corners for v in (x, y))
            lines.append(f"{coords} {box.class_name.replace(' ', '_')} 0")
        (labels / (chip.path.stem + ".txt")).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def read(path: Path, images: Optional[Path] = None) -> list[Chip]:
    return [c for c in chips_from_images(read_dota(path)) if c.boxes]
