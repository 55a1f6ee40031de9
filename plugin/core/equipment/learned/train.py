"""Train the CenterNet-style detector on CPU within a time budget and export it to ONNX.

Entry point: `train_detector(TrainingParameters, progress) -> TrainingResult`. The best model
(by F1 on held-out images: `validation_examples` when given, else a share of the training images;
a detection is right when it lies on a true object of its class, scored as detection scores it) is
kept; the score threshold that gives that F1 (or the one given) is written into the model as
`det_conf`.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ...deps import require
from ...errors import InputError
from ...gdal_scope import gdal_exceptions
from ...output_checks import check_outputs
from ...progress import Progress
from ..datasets import AnnotatedImage, read_dataset
from ..detection import Detection
from ..onnx_model import DET_V5, FLIP_VIEWS, nms_model_boxes, parse_output, views_merged
from .export import NMS_IOU
from .data import MIN_HEAT_SIGMA, ScaledImage, augment_crop, build_targets, examples_to_images, load_scaled_images, photometric

LOG = logging.getLogger(__name__)
LEARNING_RATE = 3e-3
EDGE_OVERHANG = 4  # random crops reach up to 1/EDGE_OVERHANG of their side past the image
EMA_DECAY = 0.998  # the exported weights: an exponential moving average of the trained ones
F1_TOLERANCE = 0.02  # validation F1 given up for a lower (more robust) score threshold
# how the threshold was chosen (choose_threshold), recorded in the model so that a kept model of
# an earlier rule is known as such
THRESHOLD_RULE = "lowest near the best F1, not over-counting, model NMS"


@dataclass
class TrainingParameters:
    """What to train on and how long. Give `examples`, `dataset`, or both."""

    output_model: str
    examples: Sequence[tuple[str, Sequence[Detection]]] = ()  # (raster, detections in its map CRS)
    dataset: str = ""  # COCO .json, YOLO folder or DOTA folder
    images: Sequence[str] = ()  # with a dataset: keep only these image files (paths or names)
    classes: Optional[Sequence[str]] = None  # keep only these classes (None: every class found)
    class_map: dict = field(default_factory=dict)  # rename classes before training {"Airplane": "aircraft"}
    time_budget_min: float = 20.0
    # stop after this many steps (None: the time budget alone decides): the same training on a busy
    # machine as on a quiet one, the time budget then only a cap
    max_steps: Optional[int] = None
    gsd_m: float = 1.0  # the model's working ground sample distance
    image_gsd_m: Optional[float] = None  # GSD of images without georeferencing
    tile_size: int = 640
    crop_size: int = 256
    batch_size: int = 12
    threads: int = 2
    seed: int = 0
    validation_fraction: float = 0.12
    # reviewed images kept out of training, on which the checkpoint and the score threshold are
    # chosen (e.g. one reviewed capture of the site); none: a share of the training images
    # (validation_fraction), or the training images themselves when there are too few
    validation_examples: Sequence[tuple[str, Sequence[Detection]]] = ()
    width: int = 16
    # the model is run on the image mirrored three ways as well and each box scores the mean over
    # the four views (OnnxDetector.predict): steadier scores for about twice the detection time
    test_time_flips: bool = True
    # score threshold written into the model (None: the one that gives the best validation F1)
    det_conf: Optional[float] = None
    # the smallest spread of an object's peak in the training heatmap, in output cells (4 model
    # pixels): an object of a cell or two (a car or truck at 1 m) has a centre cell that its look
    # does not pin down; a tight peak (0.5) then punishes the neighbouring cell and the model
    # learns to score such objects low, a wider one (1.0) lets them score as high as the large ones
    min_heat_sigma: float = MIN_HEAT_SIGMA
    # classes are weighted by the square root of their inverse frequency (mean weight 1), so a rare
    # class is not drowned by a common one; this floor keeps the common ones from learning less
    # than they would unweighted (0: no floor; 1: no class under its unweighted share)
    min_class_weight: float = 0.0
    # image path -> group (e.g. the site it shows): the held-out validation images are whole
    # groups, so the threshold is not chosen on other dates of a training site (each image or
    # chip of an image not listed is a group of its own)
    groups: dict = field(default_factory=dict)


@dataclass
class TrainingResult:
    model_path: str
    class_names: list[str]
    gsd_m: float
    tile_size: int
    steps: int
    seconds: float
    images_train: int
    images_validation: int
    objects: int
    validation_f1: Optional[float]
    det_conf: float
    history: list[dict] = field(default_factory=list)
    threads: int = 0


def _gather(params: TrainingParameters) -> list[AnnotatedImage]:
    images: list[AnnotatedImage] = []
    if params.examples:
        images.extend(examples_to_images(params.examples))
    if params.dataset:
        found = read_dataset(params.dataset)
        if params.images:
            wanted = {Path(p).name for p in params.images}
            found = [im for im in found if Path(im.path).name in wanted]
            if not found:
                raise InputError(f"None of the selected images is annotated in the dataset {params.dataset}.")
        images.extend(found)
    return _renamed(images, params.class_map)


def _renamed(images: list[AnnotatedImage], class_map: dict) -> list[AnnotatedImage]:
    for im in images:
        for b in im.boxes:
            b.class_name = class_map.get(b.class_name, b.class_name)
    return images


def _class_names(images: list[AnnotatedImage], wanted: Optional[Sequence[str]]) -> list[str]:
    counts = Counter(b.class_name for im in images for b in im.boxes)
    if not counts:
        raise InputError("The training data holds no annotated object: draw or import examples first.")
    if wanted:
        missing = [c for c in wanted if c not in counts]
        if missing:
            raise InputError(
                f"No training example of class {', '.join(missing)}; the data has: "
                f"{', '.join(f'{k} ({v})' for k, v in sorted(counts.items()))}.")
        return list(wanted)
    return sorted(counts)


def _validation_images(scaled: list[ScaledImage], group_of: list[str], fraction: float,
                       rng: np.random.Generator) -> set[int]:
    """Indices of the held-out images: whole groups, drawn at random until about `fraction` of
    the images with objects are held out (none with fewer than 5 such images or one group)."""
    with_boxes = [i for i, s in enumerate(scaled) if len(s.boxes)]
    groups = sorted({group_of[i] for i in with_boxes})
    n_val = int(round(len(with_boxes) * fraction)) if len(with_boxes) >= 5 else 0
    if not n_val or len(groups) < 2:
        return set()
    held: set[int] = set()
    for g in rng.permutation(groups)[:-1]:  # at least one group trains
        if len(held) >= n_val:
            break
        held |= {i for i in with_boxes if group_of[i] == g}
    return held


def class_weights_for(counts: np.ndarray, floor: float = 0.0) -> np.ndarray:
    """Per-class loss weights from the training objects per class: sqrt of the inverse frequency,
    mean 1, none under `floor`."""
    weights = np.sqrt(counts.sum() / np.maximum(counts, 1) / len(counts))
    return np.maximum(weights / weights.mean(), floor)


class _Sampler:
    """Random crops, half of them centred near an object of a uniformly drawn class."""

    def __init__(self, images: list[ScaledImage], num_classes: int, crop: int, rng: np.random.Generator,
                 min_sigma: float = MIN_HEAT_SIGMA):
        self.images, self.crop, self.rng, self.nc, self.min_sigma = images, crop, rng, num_classes, min_sigma
        self.by_class: list[list[tuple[int, int]]] = [[] for _ in range(num_classes)]
        for i, im in enumerate(images):
            for j, c in enumerate(im.labels):
                self.by_class[int(c)].append((i, j))
        self.classes_present = [c for c in range(num_classes) if self.by_class[c]]

    def sample(self, torch, stride: int, size_ref: float):
        rng, crop = self.rng, self.crop
        scale = math.exp(rng.uniform(math.log(0.8), math.log(1.25)))
        src = int(round(crop * scale))
        if rng.random() < 0.6 and self.classes_present:
            c = self.classes_present[int(rng.integers(len(self.classes_present)))]
            i, j = self.by_class[c][int(rng.integers(len(self.by_class[c])))]
            im = self.images[i]
            bx = im.boxes[j]
            cx, cy = (bx[0] + bx[2]) / 2, (bx[1] + bx[3]) / 2
            x0 = int(cx - rng.uniform(0.15, 0.85) * src)
            y0 = int(cy - rng.uniform(0.15, 0.85) * src)
        else:
            im = self.images[int(rng.integers(len(self.images)))]
            h, w = im.pixels.shape[:2]
            # a crop may reach a quarter of its side past the image: detection pads the tiles at a
            # raster's edge (and nodata) with zeros, and the model learns that padding is background
            over = src // EDGE_OVERHANG
            x0 = int(rng.integers(min(0, w - src) - over, max(1, w - src + 1) + over))
            y0 = int(rng.integers(min(0, h - src) - over, max(1, h - src + 1) + over))
        pix = _crop(im.pixels, x0, y0, src)
        boxes = im.boxes - np.array([x0, y0, x0, y0], np.float32)
        keep = ((boxes[:, 2] > 0) & (boxes[:, 3] > 0) & (boxes[:, 0] < src) & (boxes[:, 1] < src))
        boxes, labels = boxes[keep], im.labels[keep]
        pix, boxes = augment_crop(rng, pix, boxes)  # (S, S, 4): RGB and "inside the image"
        t = torch.from_numpy(pix.astype(np.float32).transpose(2, 0, 1) / 255.0)
        if src != crop:
            t = torch.nn.functional.interpolate(t[None], size=(crop, crop), mode="bilinear",
                                                align_corners=False)[0]
            boxes = boxes * (crop / src)
        inside = (t[3:4] > 0.5).float()
        img = (photometric(rng, t[:3]) * inside).numpy()  # padding stays 0, as detection sees it
        heat, reg, mask = build_targets(boxes, labels, crop, self.nc, stride, size_ref, self.min_sigma)
        return img, heat, reg, mask


def _crop(pixels: np.ndarray, x0: int, y0: int, size: int) -> np.ndarray:
    """(size, size, 4) uint8: the RGB pixels (0 past the image) and 255 where inside the image."""
    h, w = pixels.shape[:2]
    out = np.zeros((size, size, 4), np.uint8)
    sx0, sy0 = max(0, x0), max(0, y0)
    sx1, sy1 = min(w, x0 + size), min(h, y0 + size)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0, :3] = pixels[sy0:sy1, sx0:sx1]
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0, 3] = 255
    return out


def _ema_update(torch, ema, net, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * net, weights and batch-norm statistics alike."""
    with torch.no_grad():
        for e, p in zip(ema.state_dict().values(), net.state_dict().values()):
            if e.dtype.is_floating_point:
                e.mul_(decay).add_(p.detach(), alpha=1.0 - decay)
            else:
                e.copy_(p)


def _losses(torch, heat_logits, box, heat_t, reg_t, mask_t, class_weights):
    """Class-weighted CenterNet focal loss on the heatmap; L1 on offsets and log sizes at centres."""
    p = torch.sigmoid(heat_logits).clamp(1e-4, 1 - 1e-4)
    pos = heat_t.eq(1.0).float()
    neg_w = torch.pow(1 - heat_t, 4)
    cw = class_weights.view(1, -1, 1, 1)
    pos_loss = (torch.log(p) * torch.pow(1 - p, 2) * pos * cw).sum()
    neg_loss = (torch.log(1 - p) * torch.pow(p, 2) * neg_w * (1 - pos)).sum()
    num_pos = pos.sum().clamp(min=1.0)
    focal = -(pos_loss + neg_loss) / num_pos
    m = mask_t.unsqueeze(1)
    off = torch.sigmoid(box[:, :2])
    reg = (torch.abs(off - reg_t[:, :2]) * m).sum() + (torch.abs(box[:, 2:] - reg_t[:, 2:]) * m).sum()
    reg = reg / (m.sum() * 2).clamp(min=1.0)
    return focal, reg


def centre_match(pred: np.ndarray, scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Boolean per prediction (xyxy): its centre lies on a truth box (xyxy) not taken by a better
    one (best score first; of several boxes under it, the one whose centre is nearest). A count
    needs the detection on the object; the box's extent does not matter there, and for an object
    of a few pixels (a car at 1 m) a box one pixel too wide already fails IoU 0.5."""
    hit = np.zeros(len(pred), bool)
    if len(pred) == 0 or len(truth) == 0:
        return hit
    cx, cy = (pred[:, 0] + pred[:, 2]) / 2, (pred[:, 1] + pred[:, 3]) / 2
    tx, ty = (truth[:, 0] + truth[:, 2]) / 2, (truth[:, 1] + truth[:, 3]) / 2
    used = np.zeros(len(truth), bool)
    for i in np.argsort(-scores):
        cand = np.where(~used & (truth[:, 0] <= cx[i]) & (cx[i] <= truth[:, 2])
                        & (truth[:, 1] <= cy[i]) & (cy[i] <= truth[:, 3]))[0]
        if len(cand):
            used[cand[np.argmin((tx[cand] - cx[i]) ** 2 + (ty[cand] - cy[i]) ** 2)]] = True
            hit[i] = True
    return hit


def _predict_image(torch, decoder, pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    x = np.zeros((1, 3, ph, pw), np.float32)
    x[0, :, :h, :w] = pixels.transpose(2, 0, 1) / 255.0
    with torch.no_grad():
        rows = decoder(torch.from_numpy(x))[0].numpy()
    return rows[rows[:, 4] >= 0.05]


def _predict_boxes(torch, decoder, pixels: np.ndarray, min_score: float, flips: bool):
    """xyxy boxes, scores and class ids of an (H, W, 3) image, decoded, merged and scored as
    detection does it (OnnxDetector.predict: the model's NMS; with `flips`, the mean over four
    mirrored views)."""
    def detect_view(view: np.ndarray, floor: float):
        rows = _predict_image(torch, decoder, view.transpose(1, 2, 0))
        return nms_model_boxes(parse_output(rows[None], DET_V5, rows.shape[1] - 5, floor), NMS_IOU)

    kept = views_merged(detect_view, pixels.transpose(2, 0, 1), min_score, flips, NMS_IOU)
    boxes = np.array([[b.cx - b.w / 2, b.cy - b.h / 2, b.cx + b.w / 2, b.cy + b.h / 2] for b in kept]).reshape(-1, 4)
    return boxes, np.array([b.score for b in kept]), np.array([b.class_id for b in kept], np.int64)


def evaluate_f1(torch, decoder, images: list[ScaledImage],
                thresholds: Sequence[float] = tuple(np.arange(0.1, 0.8, 0.025)),
                tolerance: float = F1_TOLERANCE, flips: bool = False) -> tuple[float, float]:
    """(best F1, a detection found when it lies on a true object of its class (centre_match);
    threshold chosen by choose_threshold). `flips`: scored as detection with test-time flips
    scores (the mean over four views)."""
    tp = np.zeros(len(thresholds))
    npred = np.zeros(len(thresholds))
    ntruth = 0
    for im in images:
        boxes, scores, labels = _predict_boxes(torch, decoder, im.pixels, min(thresholds), flips)
        ntruth += len(im.boxes)
        for k, t in enumerate(thresholds):
            sel = scores >= t
            hit = np.zeros(int(sel.sum()), bool)
            for c in np.unique(im.labels) if len(im.labels) else []:
                pc = sel & (labels == c)
                hit_c = centre_match(boxes[pc], scores[pc], im.boxes[im.labels == c])
                hit[np.where(labels[sel] == c)[0]] = hit_c
            tp[k] += hit.sum()
            npred[k] += sel.sum()
    prec = tp / np.maximum(npred, 1)
    rec = tp / max(ntruth, 1)
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-9)
    return float(f1.max()), choose_threshold(thresholds, f1, npred, ntruth, tolerance)


def choose_threshold(thresholds: Sequence[float], f1: np.ndarray, found: np.ndarray, truth: int,
                     tolerance: float = F1_TOLERANCE) -> float:
    """Of the thresholds (ascending) whose F1 is within `tolerance` of the best, the lowest, since
    unseen sites tend to score lower than the validation images; but where that one finds more
    objects than there are (`found` per threshold against `truth`), the lowest that does not (a
    count is what an analyst reads), or, when all of them do, the highest."""
    near_best = np.where(f1 >= f1.max() - tolerance)[0]
    not_over = near_best[found[near_best] <= truth]
    return float(thresholds[not_over[0] if len(not_over) else near_best[-1]])


def schedule_fraction(step: int, max_steps: Optional[int], time_fraction: float) -> float:
    """How far the training is (0..1), which sets the learning rate: the steps done when a step
    budget is given (a busy machine then trains the same model, only later; its time budget stays
    a hard stop), else the time budget used."""
    return step / max_steps if max_steps else time_fraction


def effective_threads(requested: int) -> int:
    """Threads for torch: at most `requested`, fewer when other processes already keep the cores
    busy (oversubscribed OpenMP threads wait on each other and run many times slower)."""
    requested = max(1, int(requested))
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has no load average
        return requested
    idle = (os.cpu_count() or 1) - busy
    return max(1, min(requested, int(idle + 0.5)))


@gdal_exceptions()
def train_detector(params: TrainingParameters, progress: Optional[Progress] = None) -> TrainingResult:
    """Train within `time_budget_min` minutes (loading and export included) and write the ONNX file."""
    torch = require("torch")
    require("onnx")
    from .export import export_onnx
    from .network import SIZE_REF_PX, STRIDE, CenterNetLite, DecodedDetector

    progress = progress or Progress()
    t_start = time.monotonic()
    budget_s = max(10.0, params.time_budget_min * 60.0)
    out_path = Path(params.output_model)
    if out_path.suffix.lower() != ".onnx":
        raise InputError(f"The output model must be an .onnx file, not {out_path.name}.")
    if not out_path.parent.exists():
        raise InputError(f"The output folder {out_path.parent} does not exist.")
    check_outputs({"The output model": str(out_path)})  # now, not after the whole time budget

    annotated = _gather(params)
    if not annotated:
        raise InputError("No training image was given.")
    missing = [Path(im.path).name for im in annotated
               if "://" not in im.path and not im.path.startswith("/vsi") and not Path(im.path).exists()]
    if missing:
        raise InputError(f"{len(missing)} image(s) named by the training data do not exist: "
                         f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}. Put them where the "
                         f"dataset expects them, or give the images (IMAGES).")
    class_names = _class_names(annotated, params.classes)
    class_index = {c: i for i, c in enumerate(class_names)}
    nc = len(class_names)

    progress.report(0.0, "Loading training images")
    load_progress = progress.stage(0.0, 0.08)
    scaled: list[ScaledImage] = []
    group_of: list[str] = []  # per scaled image
    for k, im in enumerate(annotated):
        loaded = load_scaled_images(im, class_index, params.gsd_m, params.image_gsd_m)
        scaled.extend(loaded)
        group = params.groups.get(im.path)
        group_of.extend([str(group) if group is not None else f"{im.path}#{j}" for j in range(len(loaded))])
        load_progress.report((k + 1) / len(annotated), f"Loaded {Path(im.path).name}")
    n_obj = sum(len(s.boxes) for s in scaled)
    if n_obj == 0:
        raise InputError("None of the training objects lies inside its image (check CRS and extents).")

    rng = np.random.default_rng(params.seed)
    torch.manual_seed(params.seed)
    kept_out = [s for im in _renamed(examples_to_images(params.validation_examples), params.class_map)
                for s in load_scaled_images(im, class_index, params.gsd_m, params.image_gsd_m)]
    val_idx = set() if kept_out else _validation_images(scaled, group_of, params.validation_fraction, rng)
    train_set = [s for i, s in enumerate(scaled) if i not in val_idx]
    val_set = kept_out or [s for i, s in enumerate(scaled) if i in val_idx] or [s for s in scaled if len(s.boxes)]
    n_validation = len(kept_out) or len(val_idx)  # images held out of training

    counts = np.bincount(np.concatenate([s.labels for s in train_set]) if train_set else [], minlength=nc)
    class_weights = torch.tensor(class_weights_for(counts, params.min_class_weight), dtype=torch.float32)

    old_threads = torch.get_num_threads()
    threads = effective_threads(params.threads)
    torch.set_num_threads(threads)
    try:
        net = CenterNetLite(nc, params.width)
        decoder = DecodedDetector(net)
        ema_net = CenterNetLite(nc, params.width)  # validated and exported: steadier than the last step
        ema_net.load_state_dict(net.state_dict())
        ema_net.eval()
        ema_decoder = DecodedDetector(ema_net)
        opt = torch.optim.AdamW(net.parameters(), lr=LEARNING_RATE, weight_decay=1e-4)
        sampler = _Sampler(train_set, nc, params.crop_size, rng, params.min_heat_sigma)
        deadline = t_start + budget_s
        export_cost = 6.0  # seconds; measured below as the run goes
        views = len(FLIP_VIEWS) if params.test_time_flips else 1  # validation runs each view
        eval_cost = 2.0 + 0.5 * views * sum(s.pixels.shape[0] * s.pixels.shape[1] for s in val_set) / 1e6
        t_train0 = time.monotonic()
        span = max(deadline - t_train0 - eval_cost - export_cost, 1.0)
        eval_every = max(20.0, span / 5.0)
        next_eval = t_train0 + eval_every
        best_f1, best_conf, best_state = -1.0, 0.3, None
        history: list[dict] = []
        step = 0
        step_cost = 0.0
        run_loss = None
        while True:
            now = time.monotonic()
            train_end = deadline - eval_cost - 1.5 * export_cost - step_cost
            frac = schedule_fraction(step, params.max_steps, (now - t_train0) / max(train_end - t_train0, 1.0))
            if frac >= 1.0 or now >= train_end:
                break
            lr = LEARNING_RATE * min(1.0, (step + 1) / 30.0) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))
            for g in opt.param_groups:
                g["lr"] = lr
            net.train()
            batch = [sampler.sample(torch, STRIDE, SIZE_REF_PX) for _ in range(params.batch_size)]
            x, heat_t, reg_t, mask_t = (torch.from_numpy(np.stack(v)) for v in zip(*batch))
            heat_logits, box = net(x)
            focal, reg = _losses(torch, heat_logits, box, heat_t, reg_t, mask_t, class_weights)
            loss = focal + reg
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            _ema_update(torch, ema_net, net, min(EMA_DECAY, (1 + step) / (10 + step)))
            if step > 1:  # the first step pays for warm-up; later ones give the cost of one more
                cost = time.monotonic() - now
                step_cost = cost if step == 2 else 0.8 * step_cost + 0.2 * cost
            run_loss = float(loss) if run_loss is None else 0.95 * run_loss + 0.05 * float(loss)
            progress.report(0.08 + 0.88 * min(frac, 1.0), f"Training: step {step}, loss {run_loss:.3f}")
            last = (time.monotonic() + step_cost >= deadline - eval_cost - 1.5 * export_cost - step_cost
                    or (params.max_steps is not None and step >= params.max_steps))
            # with a step budget, validation at fixed steps: the same data trains the same model on a
            # busy machine as on a quiet one
            due = (step % max(1, params.max_steps // 5) == 0) if params.max_steps else time.monotonic() >= next_eval
            if due or last:
                t_eval = time.monotonic()
                f1, conf = evaluate_f1(torch, ema_decoder, val_set, flips=params.test_time_flips)
                eval_cost = max(eval_cost * 0.5, time.monotonic() - t_eval)
                history.append({"step": step, "seconds": round(time.monotonic() - t_start, 1),
                                "loss": round(run_loss, 4), "val_f1": round(f1, 4), "conf": round(conf, 2)})
                LOG.info("step %d loss %.3f validation F1 %.3f at %.2f", step, run_loss, f1, conf)
                if f1 >= best_f1:
                    best_f1, best_conf = f1, conf
                    best_state = {k: v.detach().clone() for k, v in ema_net.state_dict().items()}
                next_eval = time.monotonic() + eval_every
                if last:
                    break
        if best_state is None or step == 0:
            net.eval()
            best_f1, best_conf = evaluate_f1(torch, decoder, val_set, flips=params.test_time_flips)
        else:
            net.load_state_dict(best_state)
        net.eval()
        progress.report(0.97, "Writing the ONNX model")
        det_conf = best_conf if params.det_conf is None else params.det_conf
        sizes = np.concatenate([np.maximum(s.boxes[:, 2] - s.boxes[:, 0], s.boxes[:, 3] - s.boxes[:, 1])
                                for s in scaled if len(s.boxes)])
        seconds = time.monotonic() - t_start
        export_onnx(decoder, out_path, class_names=class_names, gsd_m=params.gsd_m, tile_size=params.tile_size,
                    det_conf=det_conf, max_object_px=float(np.percentile(sizes, 99)),
                    training_info={"images": len(train_set), "validation_images": n_validation,
                                   "objects": int(n_obj), "steps": step, "threads": threads, "seconds": round(seconds, 1),
                                   "validation_f1": round(best_f1, 4), "min_heat_sigma": params.min_heat_sigma,
                                   "min_class_weight": params.min_class_weight,
                                   "threshold_rule": THRESHOLD_RULE},
                    test_time_flips=params.test_time_flips)
    finally:
        torch.set_num_threads(old_threads)
    progress.report(1.0, "Model written")
    return TrainingResult(
        model_path=str(out_path), class_names=class_names, gsd_m=params.gsd_m, tile_size=params.tile_size,
        steps=step, seconds=time.monotonic() - t_start, images_train=len(train_set),
        images_validation=n_validation, objects=int(n_obj), validation_f1=best_f1 if n_validation else None,
        det_conf=det_conf, history=history, threads=threads)
