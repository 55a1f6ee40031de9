"""Readers for annotated image datasets: COCO (json), YOLO (images/ + labels/ txt), DOTA (labelTxt/).

Each reader returns `AnnotatedImage`s with boxes in the image's pixel coordinates, ready for
training. `read_dataset(path)` recognises the format from the path.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import InputError

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".vrt", ".jp2", ".bmp")


@dataclass
class LabelBox:
    """An axis-aligned box in image pixels (x right, y down), with optional oriented corners."""

    x0: float
    y0: float
    x1: float
    y1: float
    class_name: str
    corners: Optional[list[tuple[float, float]]] = None  # oriented outline when the source has one

    @classmethod
    def from_polygon(cls, points: list[tuple[float, float]], class_name: str) -> "LabelBox":
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        return cls(min(xs), min(ys), max(xs), max(ys), class_name, corners=list(points))


@dataclass
class AnnotatedImage:
    path: str
    boxes: list[LabelBox] = field(default_factory=list)
    gsd_m: Optional[float] = None  # known from the dataset (DOTA header); else from georeferencing


def _image_files(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}


def read_coco(path: str | Path, images_dir: str | Path | None = None) -> list[AnnotatedImage]:
    """COCO detection json: `images`, `annotations` (bbox x, y, w, h; or segmentation), `categories`."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"Cannot read the COCO file {path}: {exc}") from exc
    if not isinstance(doc, dict) or "images" not in doc or "annotations" not in doc:
        raise InputError(f"{path} is not a COCO detection file (it needs 'images' and 'annotations').")
    names = {c["id"]: str(c.get("name", c["id"])) for c in doc.get("categories", [])}
    base = Path(images_dir) if images_dir else path.parent
    images: dict = {}
    for im in doc["images"]:
        file = base / im["file_name"]
        if not file.exists() and (base / "images" / im["file_name"]).exists():
            file = base / "images" / im["file_name"]
        images[im["id"]] = AnnotatedImage(path=str(file))
    for ann in doc["annotations"]:
        image = images.get(ann.get("image_id"))
        if image is None:
            continue
        name = names.get(ann.get("category_id"), str(ann.get("category_id")))
        seg = ann.get("segmentation")
        if isinstance(seg, list) and seg and isinstance(seg[0], list) and len(seg[0]) >= 6:
            pts = seg[0]
            image.boxes.append(LabelBox.from_polygon(list(zip(pts[0::2], pts[1::2])), name))
        elif "bbox" in ann:
            x, y, w, h = (float(v) for v in ann["bbox"])
            image.boxes.append(LabelBox(x, y, x + w, y + h, name))
    return list(images.values())


def _yolo_names(root: Path) -> list[str]:
    for cand in (root / "data.yaml", root / "dataset.yaml", root.parent / "data.yaml"):
        if cand.exists():
            text = cand.read_text(encoding="utf-8")
            m = re.search(r"names\s*:\s*\[(.*?)\]", text, re.S)
            if m:
                return [s.strip().strip("'\"") for s in m.group(1).split(",") if s.strip()]
            m = re.search(r"names\s*:\s*\n((?:\s+.+\n?)+)", text)
            if m:
                out = []
                for line in m.group(1).splitlines():
                    line = line.strip()
                    if not line:
                        continue
                    out.append(line.split(":", 1)[1].strip().strip("'\"") if ":" in line
                               else line.lstrip("- ").strip("'\""))
                return out
    for cand in (root / "classes.txt", root / "obj.names", root / "classes.names"):
        if cand.exists():
            return [ln.strip() for ln in cand.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return []


def read_yolo(root: str | Path) -> list[AnnotatedImage]:
    """YOLO folder: images/ and labels/ (same stems), lines `class cx cy w h` normalised 0..1
    (or `class x1 y1 ... x4 y4` for YOLO-OBB); class names from data.yaml or classes.txt."""
    from osgeo import gdal

    root = Path(root)
    img_dir = root / "images" if (root / "images").is_dir() else root
    lbl_dir = root / "labels" if (root / "labels").is_dir() else root
    names = _yolo_names(root)
    out: list[AnnotatedImage] = []
    for img_path in sorted(p for p in img_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        rel = img_path.relative_to(img_dir).with_suffix(".txt")
        label = lbl_dir / rel
        image = AnnotatedImage(path=str(img_path))
        if label.exists():
            ds = gdal.Open(str(img_path))
            if ds is None:
                raise InputError(f"Cannot open the YOLO image {img_path}.")
            w, h = ds.RasterXSize, ds.RasterYSize
            for n, line in enumerate(label.read_text(encoding="utf-8").splitlines(), 1):
                parts = line.split()
                if not parts:
                    continue
                try:
                    cls = int(float(parts[0]))
                    vals = [float(v) for v in parts[1:]]
                except ValueError as exc:
                    raise InputError(f"{label} line {n}: not a YOLO label ({line!r}).") from exc
                name = names[cls] if 0 <= cls < len(names) else str(cls)
                if len(vals) == 4:
                    cx, cy, bw, bh = vals
                    image.boxes.append(LabelBox((cx - bw / 2) * w, (cy - bh / 2) * h,
                                                (cx + bw / 2) * w, (cy + bh / 2) * h, name))
                elif len(vals) == 8:
                    pts = [(vals[i] * w, vals[i + 1] * h) for i in range(0, 8, 2)]
                    image.boxes.append(LabelBox.from_polygon(pts, name))
                else:
                    raise InputError(f"{label} line {n}: expected 5 or 9 numbers, found {len(parts)}.")
        out.append(image)
    return out


def read_dota(root: str | Path) -> list[AnnotatedImage]:
    """DOTA folder: images/ and labelTxt/ with `x1 y1 ... x4 y4 class difficult` lines
    (header lines `imagesource:` and `gsd:` optional; the gsd sets the image GSD)."""
    root = Path(root)
    img_dir = root / "images" if (root / "images").is_dir() else root
    lbl_dir = root / "labelTxt" if (root / "labelTxt").is_dir() else root / "labels"
    if not lbl_dir.is_dir():
        raise InputError(f"{root} has no labelTxt/ folder: not a DOTA dataset.")
    images = _image_files(img_dir)
    out: list[AnnotatedImage] = []
    for label in sorted(lbl_dir.glob("*.txt")):
        if label.stem not in images:
            continue
        image = AnnotatedImage(path=str(images[label.stem]))
        for n, line in enumerate(label.read_text(encoding="utf-8").splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if parts[0].lower().startswith("gsd:"):
                value = line.split(":", 1)[1].strip()
                try:
                    image.gsd_m = float(value) if value and value.lower() != "null" else None
                except ValueError:
                    image.gsd_m = None
                continue
            if parts[0].lower().startswith("imagesource"):
                continue
            if len(parts) < 9:
                raise InputError(f"{label} line {n}: expected 'x1 y1 x2 y2 x3 y3 x4 y4 class [difficult]'.")
            try:
                vals = [float(v) for v in parts[:8]]
            except ValueError as exc:
                raise InputError(f"{label} line {n}: corner coordinates are not numbers.") from exc
            pts = [(vals[i], vals[i + 1]) for i in range(0, 8, 2)]
            image.boxes.append(LabelBox.from_polygon(pts, parts[8]))
        out.append(image)
    return out


def detect_format(path: str | Path) -> str:
    """'coco', 'yolo' or 'dota' for a dataset path; InputError when none fits."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".json":
        return "coco"
    if path.is_dir():
        if (path / "labelTxt").is_dir():
            return "dota"
        jsons = list(path.glob("*.json")) + list((path / "annotations").glob("*.json"))
        if (path / "labels").is_dir() or (path / "data.yaml").exists():
            return "yolo"
        if jsons:
            return "coco"
    raise InputError(
        f"{path} is not a recognised dataset: give a COCO .json file, a YOLO folder (images/, labels/) "
        "or a DOTA folder (images/, labelTxt/).")


def read_dataset(path: str | Path) -> list[AnnotatedImage]:
    """Read a COCO json, YOLO folder or DOTA folder; InputError if it holds no annotated image."""
    fmt = detect_format(path)
    path = Path(path)
    if fmt == "coco":
        if path.is_dir():
            path = sorted(list(path.glob("*.json")) + list((path / "annotations").glob("*.json")))[0]
        images = read_coco(path)
    elif fmt == "yolo":
        images = read_yolo(path)
    else:
        images = read_dota(path)
    if not any(im.boxes for im in images):
        raise InputError(f"The {fmt.upper()} dataset {path} holds no annotated object.")
    return images
