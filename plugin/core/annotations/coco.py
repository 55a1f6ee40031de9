"""COCO detection json: `bbox` (axis-aligned) and a four-corner `segmentation` (the oriented box)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ..equipment.datasets import read_coco
from .chips import Chip
from .labels import chips_from_images, class_list, relative_image

FILE_NAME = "annotations.json"


def write(chips: list[Chip], root: Path) -> Path:
    classes = class_list(chips)
    doc: dict = {"info": {"description": "SiteWatch reviewed objects"}, "images": [], "annotations": [],
                 "categories": [{"id": k + 1, "name": name} for k, name in enumerate(classes)]}
    for image_id, chip in enumerate(chips, start=1):
        doc["images"].append({"id": image_id, "file_name": relative_image(chip, root), "width": chip.width,
                              "height": chip.height})
        for box in chip.boxes:
            x0, y0, x1, y1 = box.envelope
            c = box.corners
            area = 0.5 * abs(sum(c[i][0] * c[(i + 1) % 4][1] - c[(i + 1) % 4][0] * c[i][1] for i in range(4)))
            doc["annotations"].append({
                "id": len(doc["annotations"]) + 1, "image_id": image_id,
                "category_id": classes.index(box.class_name) + 1, "bbox": [x0, y0, x1 - x0, y1 - y0],
                "segmentation": [[round(float(v), 3) for point in c for v in point]], "area": area, "iscrowd": 0})
    path = root / FILE_NAME
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


def read(path: Path, images: Optional[Path] = None) -> list[Chip]:
    path = Path(path)
    if path.is_dir():
        path = path / FILE_NAME if (path / FILE_NAME).exists() else sorted(path.glob("*.json"))[0]
    return chips_from_images(read_coco(path, images))
