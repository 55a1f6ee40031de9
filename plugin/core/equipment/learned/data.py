"""Training examples in pixels at the model's GSD: loading, scaling to 0..255, crops, targets.

numpy + GDAL only (no torch), so the conversion from detections or datasets is testable alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np

from ...errors import InputError, UnreadableRaster
from ..datasets import AnnotatedImage, LabelBox
from ..detection import Detection

STRETCH_PERCENTILES = (2.0, 98.0)
MIN_HEAT_SIGMA = 0.5  # default smallest spread of an object's heatmap peak, in output cells


@dataclass
class ScaledImage:
    """One training image resampled to the model GSD, with its boxes in those pixels."""

    name: str
    pixels: np.ndarray  # (H, W, 3) uint8
    boxes: np.ndarray  # (n, 4) x0, y0, x1, y1 in model pixels
    labels: np.ndarray  # (n,) class index
    scale: float = 1.0  # source pixels per model pixel
    extra: dict = field(default_factory=dict)


def geotransform_gsd_m(gt: Sequence[float], srs_wkt: str, width_px: int, height_px: int) -> Optional[float]:
    """Ground size of a pixel in metres (geographic CRS included); None without georeferencing."""
    if not srs_wkt or tuple(gt) == (0.0, 1.0, 0.0, 0.0, 0.0, 1.0):
        return None
    from ...raster import gsd_metres

    return gsd_metres(gt, srs_wkt, width_px, height_px)


def to_uint8(bands: np.ndarray) -> np.ndarray:
    """(bands, H, W) of any type -> (H, W, 3) uint8: Byte unchanged, others 2-98 % stretch."""
    if bands.ndim == 2:
        bands = bands[None]
    if bands.shape[0] >= 3:
        bands = bands[:3]
    else:
        bands = np.repeat(bands[:1], 3, axis=0)
    if bands.dtype == np.uint8:
        return np.ascontiguousarray(bands.transpose(1, 2, 0))
    data = bands.astype(np.float32)
    out = np.empty(data.shape, np.uint8)
    for i, band in enumerate(data):
        sample = band[::4, ::4]
        sample = sample[np.isfinite(sample) & (sample != 0)]
        lo, hi = (np.percentile(sample, STRETCH_PERCENTILES) if sample.size else (0.0, 1.0))
        hi = hi if hi > lo else lo + 1.0
        out[i] = np.clip((band - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out.transpose(1, 2, 0))


def load_scaled_images(image: AnnotatedImage, class_index: dict[str, int], target_gsd_m: float,
                       default_gsd_m: Optional[float] = None) -> list[ScaledImage]:
    """Read an annotated image resampled (area average) to `target_gsd_m`.

    Images larger than MAX_FULL_PX at that GSD are read as CHIP_PX chips around the boxes
    (a few boxes on a large scene do not load the scene).
    """
    from osgeo import gdal

    ds = gdal.Open(str(image.path))
    if ds is None:
        raise UnreadableRaster(f"Cannot open the training image {image.path}.")
    gsd = image.gsd_m or geotransform_gsd_m(ds.GetGeoTransform(), ds.GetProjection(), ds.RasterXSize,
                                            ds.RasterYSize) or default_gsd_m
    if not gsd:
        raise InputError(
            f"The training image {image.path} has no georeferencing, so its ground sample distance is "
            "unknown: give the image GSD (metres per pixel) with the training data.")
    scale = target_gsd_m / gsd  # source pixels per model pixel
    boxes = np.asarray([[b.x0, b.y0, b.x1, b.y1] for b in image.boxes if b.class_name in class_index],
                       np.float64).reshape(-1, 4)
    labels = np.asarray([class_index[b.class_name] for b in image.boxes if b.class_name in class_index], np.int64)
    full_w, full_h = ds.RasterXSize / scale, ds.RasterYSize / scale
    if full_w * full_h <= MAX_FULL_PX * MAX_FULL_PX:
        windows = [(0, 0, ds.RasterXSize, ds.RasterYSize)]
    else:
        windows = _chip_windows(boxes, ds.RasterXSize, ds.RasterYSize, int(CHIP_PX * scale))
    out = []
    for k, (x0, y0, wsrc, hsrc) in enumerate(windows):
        w = max(1, int(round(wsrc / scale)))
        h = max(1, int(round(hsrc / scale)))
        alg = gdal.GRIORA_Average if scale > 1.0 else gdal.GRIORA_Bilinear
        bands = ds.ReadAsArray(x0, y0, wsrc, hsrc, buf_xsize=w, buf_ysize=h, resample_alg=alg)
        if bands is None:
            raise UnreadableRaster(f"Cannot read the pixels of {image.path}.")
        sx, sy = wsrc / w, hsrc / h
        local = (boxes - np.array([x0, y0, x0, y0])) / np.array([sx, sy, sx, sy])
        inside = (local[:, 2] > 0) & (local[:, 3] > 0) & (local[:, 0] < w) & (local[:, 1] < h)
        out.append(ScaledImage(
            name=f"{image.path}#{k}" if len(windows) > 1 else str(image.path), pixels=to_uint8(bands),
            boxes=local[inside].astype(np.float32), labels=labels[inside], scale=float(scale)))
    return out


MAX_FULL_PX = 3072  # model pixels per side read whole
CHIP_PX = 768  # chip side (model pixels) around boxes on larger images


def _chip_windows(boxes: np.ndarray, width: int, height: int, chip: int) -> list[tuple[int, int, int, int]]:
    """Source windows of `chip` px covering every box centre (greedy, in box order)."""
    chip = min(chip, width, height)
    windows: list[tuple[int, int, int, int]] = []
    for x0, y0, x1, y1 in boxes:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        margin = chip * 0.15
        if any(wx + margin <= cx <= wx + chip - margin and wy + margin <= cy <= wy + chip - margin
               for wx, wy, _, _ in windows):
            continue
        wx = int(min(max(cx - chip / 2, 0), width - chip))
        wy = int(min(max(cy - chip / 2, 0), height - chip))
        windows.append((wx, wy, chip, chip))
    return windows


def examples_to_images(examples: Sequence[tuple[str, Sequence[Detection]]]) -> list[AnnotatedImage]:
    """(raster path, detections in its map coordinates) -> pixel boxes (axis-aligned hulls)."""
    from osgeo import gdal

    out: list[AnnotatedImage] = []
    for path, detections in examples:
        ds = gdal.Open(str(path))
        if ds is None:
            raise UnreadableRaster(f"Cannot open the training raster {path}.")
        inv = gdal.InvGeoTransform(ds.GetGeoTransform())
        boxes = []
        for det in detections:
            corners = det.polygon
            px = inv[0] + inv[1] * corners[:, 0] + inv[2] * corners[:, 1]
            py = inv[3] + inv[4] * corners[:, 0] + inv[5] * corners[:, 1]
            x0, x1 = float(px.min()), float(px.max())
            y0, y1 = float(py.min()), float(py.max())
            if x1 <= 0 or y1 <= 0 or x0 >= ds.RasterXSize or y0 >= ds.RasterYSize:
                continue  # outside this raster
            boxes.append(LabelBox(max(x0, 0.0), max(y0, 0.0), min(x1, ds.RasterXSize), min(y1, ds.RasterYSize),
                                  det.class_name))
        out.append(AnnotatedImage(path=str(path), boxes=boxes))
    return out


def _draw_gaussian(heat: np.ndarray, cx: float, cy: float, sx: float, sy: float) -> None:
    h, w = heat.shape
    rx, ry = int(3 * sx) + 1, int(3 * sy) + 1
    ix, iy = int(cx), int(cy)
    x0, x1 = max(0, ix - rx), min(w, ix + rx + 1)
    y0, y1 = max(0, iy - ry), min(h, iy + ry + 1)
    if x0 >= x1 or y0 >= y1:
        return
    xs = np.arange(x0, x1, dtype=np.float32) + 0.5 - cx
    ys = np.arange(y0, y1, dtype=np.float32) + 0.5 - cy
    g = np.exp(-(ys[:, None] ** 2) / (2 * sy * sy) - (xs[None, :] ** 2) / (2 * sx * sx))
    np.maximum(heat[y0:y1, x0:x1], g, out=heat[y0:y1, x0:x1])


def build_targets(boxes: np.ndarray, labels: np.ndarray, size: int, num_classes: int, stride: int,
                  size_ref: float, min_sigma: float = MIN_HEAT_SIGMA) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Heatmap (nc, s, s), box targets (4, s, s): dx, dy in cell, log(w/ref), log(h/ref); mask (s, s).
    Each object's peak spreads over 0.12 of its size, at least `min_sigma` output cells."""
    s = size // stride
    heat = np.zeros((num_classes, s, s), np.float32)
    reg = np.zeros((4, s, s), np.float32)
    mask = np.zeros((s, s), np.float32)
    for (x0, y0, x1, y1), c in zip(boxes, labels):
        cx, cy = (x0 + x1) / 2.0 / stride, (y0 + y1) / 2.0 / stride
        if not (0 <= cx < s and 0 <= cy < s):
            continue
        bw, bh = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
        ix, iy = int(cx), int(cy)
        # gaussian centred on the cell centre that holds the box centre (peak exactly 1 there)
        _draw_gaussian(heat[c], ix + 0.5, iy + 0.5, max(min_sigma, 0.12 * bw / stride),
                       max(min_sigma, 0.12 * bh / stride))
        heat[c, iy, ix] = 1.0
        reg[:, iy, ix] = (cx - ix, cy - iy, math.log(bw / size_ref), math.log(bh / size_ref))
        mask[iy, ix] = 1.0
    return heat, reg, mask


def augment_crop(rng: np.random.Generator, pixels: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Random 90-degree rotation and flips of an (S, S, C) crop with its (n, 4) boxes."""
    size = pixels.shape[0]
    k = int(rng.integers(4))
    for _ in range(k):  # rotate 90 degrees counter-clockwise: (x, y) -> (y, S - x)
        pixels = np.rot90(pixels)
        boxes = np.stack([boxes[:, 1], size - boxes[:, 2], boxes[:, 3], size - boxes[:, 0]], axis=1)
    if rng.random() < 0.5:
        pixels = pixels[:, ::-1]
        boxes = np.stack([size - boxes[:, 2], boxes[:, 1], size - boxes[:, 0], boxes[:, 3]], axis=1)
    return np.ascontiguousarray(pixels), boxes.reshape(-1, 4)


def photometric(rng: np.random.Generator, img):
    """Brightness, contrast, gamma, per-channel gain, occasional grey and noise on a (3, S, S)
    float tensor in 0..1 (torch, in place where possible)."""
    import torch

    img = img * float(rng.uniform(0.7, 1.3)) + float(rng.uniform(-0.12, 0.12))
    mean = img.mean()
    img = (img - mean) * float(rng.uniform(0.6, 1.4)) + mean
    img = img * torch.from_numpy(rng.uniform(0.9, 1.1, size=(3, 1, 1)).astype(np.float32))
    if rng.random() < 0.2:
        img = img.mean(dim=0, keepdim=True).expand(3, -1, -1)
    img = img.clamp(0.0, 1.0) ** float(rng.uniform(0.7, 1.4))
    if rng.random() < 0.3:
        img = img + torch.randn(img.shape) * float(rng.uniform(0.005, 0.03))
    return img.clamp(0.0, 1.0).contiguous()
