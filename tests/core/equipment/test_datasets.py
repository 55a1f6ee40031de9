"""COCO, YOLO and DOTA readers on small datasets written here."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from osgeo import gdal

from sitewatch.plugin.core.equipment.datasets import detect_format, read_coco, read_dataset, read_dota, read_yolo
from sitewatch.plugin.core.errors import InputError

gdal.UseExceptions()


def write_image(path: Path, w: int = 200, h: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mem = gdal.GetDriverByName("MEM").Create("", w, h, 3, gdal.GDT_Byte)
    for b in range(3):
        mem.GetRasterBand(b + 1).WriteArray(np.full((h, w), 50 * b, np.uint8))
    gdal.GetDriverByName("PNG").CreateCopy(str(path), mem)
    return path


def test_coco(tmp_path):
    write_image(tmp_path / "images" / "a.png")
    doc = {
        "images": [{"id": 7, "file_name": "a.png", "width": 200, "height": 100}],
        "categories": [{"id": 1, "name": "aircraft"}, {"id": 2, "name": "ship"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [10, 20, 30, 15]},
            {"id": 2, "image_id": 7, "category_id": 2, "bbox": [0, 0, 1, 1],
             "segmentation": [[50, 50, 70, 50, 70, 60, 50, 60]]},
        ],
    }
    (tmp_path / "train.json").write_text(json.dumps(doc))
    (im,) = read_coco(tmp_path / "train.json")
    assert Path(im.path) == tmp_path / "images" / "a.png"
    a, s = im.boxes
    assert (a.x0, a.y0, a.x1, a.y1, a.class_name) == (10, 20, 40, 35, "aircraft")
    assert (s.x0, s.y0, s.x1, s.y1, s.class_name) == (50, 50, 70, 60, "ship") and len(s.corners) == 4
    assert detect_format(tmp_path / "train.json") == "coco"
    with pytest.raises(InputError, match="not a COCO"):
        (tmp_path / "other.json").write_text("{}")
        read_coco(tmp_path / "other.json")


def test_yolo(tmp_path):
    write_image(tmp_path / "images" / "a.png", 200, 100)
    write_image(tmp_path / "images" / "b.png", 200, 100)
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("1 0.5 0.5 0.1 0.2\n0 0.1 0.1 0.2 0.1 0.2 0.3 0.1 0.3\n")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nnames:\n  0: aircraft\n  1: helicopter\n")
    assert detect_format(tmp_path) == "yolo"
    a, b = read_yolo(tmp_path)
    assert Path(a.path).name == "a.png" and b.boxes == []
    heli, plane = a.boxes
    assert heli.class_name == "helicopter"
    assert (heli.x0, heli.y0, heli.x1, heli.y1) == pytest.approx((90, 40, 110, 60))
    assert plane.class_name == "aircraft" and (plane.x0, plane.y1) == pytest.approx((20, 30))
    (tmp_path / "labels" / "b.txt").write_text("0 0.5 0.5\n")
    with pytest.raises(InputError, match="b.txt line 1"):
        read_yolo(tmp_path)


def test_yolo_names_list_and_classes_txt(tmp_path):
    write_image(tmp_path / "images" / "a.png")
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "classes.txt").write_text("ship\n")
    assert read_yolo(tmp_path)[0].boxes[0].class_name == "ship"
    (tmp_path / "data.yaml").write_text("names: ['tank', 'truck']\n")
    assert read_yolo(tmp_path)[0].boxes[0].class_name == "tank"


def test_dota(tmp_path):
    write_image(tmp_path / "images" / "P1.png")
    (tmp_path / "labelTxt").mkdir()
    (tmp_path / "labelTxt" / "P1.txt").write_text(
        "imagesource:GoogleEarth\ngsd:0.146\n"
        "10 10 30 12 29 22 9 20 small-vehicle 0\n100 50 120 50 120 90 100 90 ship 1\n")
    assert detect_format(tmp_path) == "dota"
    (im,) = read_dota(tmp_path)
    assert im.gsd_m == pytest.approx(0.146)
    car, ship = im.boxes
    assert (car.x0, car.y0, car.x1, car.y1, car.class_name) == (9, 10, 30, 22, "small-vehicle")
    assert ship.class_name == "ship" and len(ship.corners) == 4
    (tmp_path / "labelTxt" / "P1.txt").write_text("10 10 30 12 ship\n")
    with pytest.raises(InputError, match="P1.txt line 1"):
        read_dota(tmp_path)


def test_shared_dota_samples(shared_data):
    images = read_dataset(shared_data / "dota-samples")
    by_name = {Path(im.path).stem: im for im in images}
    assert set(by_name) == {"P0706", "P1888"}
    assert sum(b.class_name == "ship" for b in by_name["P0706"].boxes) == 531
    assert by_name["P1888"].gsd_m and by_name["P1888"].gsd_m > 0


def test_empty_and_unknown_datasets(tmp_path):
    write_image(tmp_path / "images" / "a.png")
    (tmp_path / "labels").mkdir()
    with pytest.raises(InputError, match="no annotated object"):
        read_dataset(tmp_path)
    with pytest.raises(InputError, match="not a recognised dataset"):
        read_dataset(tmp_path / "images")
