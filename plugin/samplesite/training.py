"""The sample site's own detector: the learned engine trained on its reviewed reference captures.

    model = train_site_model(site_dir, size_px=4096, seed=7)   # site_dir/models/learned.onnx

What an analyst does after reviewing a site's earlier captures (review, then "Retrain from my
reviews"): every reviewed object of the reference captures (reference.py) becomes a training
example of its category (heavy transport, fighters and bombers, helicopters, ...; air-defence
equipment by class: launcher, radar, Pantsir). One more reviewed capture is kept out of training:
the score threshold is the one that detects best on it, so it is chosen on objects the model never
saw rather than set by hand. The model is kept beside the site and used again while the reference
captures are unchanged.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Union

from ..core.equipment.catalogue import load_catalogue
from ..core.equipment.io import read_detections
from ..core.progress import Progress
from ..store.models import LEARNED_MODEL
from .reference import REFERENCE_CAPTURES, generate_reference_capture, generate_reference_captures

TRAINING_STEPS = 3300  # training steps: about 19 min on one torch thread (20 min beside `make test`)
# cap of the training's wall time: a busy 2-core machine needs 35-40 min for the steps beside
# `make test` (a cut training is a different model, its learning rate not run down)
TRAINING_MINUTES = 45.0
TRAINING_CROP_PX = 160  # training crops (model pixels): small crops, many steps within the budget
VALIDATION_CAPTURE = REFERENCE_CAPTURES + 1  # the reviewed capture kept out of training (threshold, checkpoint)
# cars and trucks are a cell or two of the model's output: a wider heatmap peak lets them score as
# high as aircraft do (TrainingParameters.min_heat_sigma; chosen on the seed-7 demo site only, where
# 1.0 counted 79 of date 1's 90 vehicles and 0.5 counted 57-65; README's table has the figures)
SITE_MIN_HEAT_SIGMA = 1.0
# vehicles are the commonest class; under the square-root inverse-frequency weighting they learned
# at a quarter of an aircraft's weight and scored low (TrainingParameters.min_class_weight; chosen
# on the seed-7 demo site only)
SITE_MIN_CLASS_WEIGHT = 1.0


# categories learned class by class: the air-defence category holds a launcher (tubes on a
# trailer), an engagement radar and a truck-mounted Pantsir, three shapes of which the last is
# much like the trucks of the vehicles category; one output for all three must fire on each and
# not on a truck, one output per class learns a single shape. Counts still add them up by category.
BY_CLASS_CATEGORIES = ("air_defence",)


def category_map() -> dict[str, str]:
    """Class id -> what the model learns it as: its category label (a few examples of each type
    would not teach it an Il-76 from an An-124; the category is what a count is about), or the
    class itself in BY_CLASS_CATEGORIES."""
    cat = load_catalogue()
    return {cls: cls if info.category in BY_CLASS_CATEGORIES else cat.category_label(cls)
            for cls, info in cat.classes.items()}


def train_site_model(site_dir: Union[str, Path], size_px: int, seed: int, minutes: float = TRAINING_MINUTES,
                     progress: Optional[Progress] = None, retrain: bool = False,
                     steps: Optional[int] = TRAINING_STEPS) -> Path:
    """site_dir/models/learned.onnx trained on the site's reference captures (generated when absent);
    an existing model newer than their truth is kept unless `retrain`."""
    from ..core.equipment.learned.train import TrainingParameters, train_detector

    progress = progress or Progress()
    site_dir = Path(site_dir)
    refs = generate_reference_captures(site_dir, size_px, seed, progress=progress.stage(0.0, 0.08))
    held_out = generate_reference_capture(site_dir, size_px, seed, VALIDATION_CAPTURE, progress.stage(0.08, 0.1))
    model = site_dir / LEARNED_MODEL
    examples = [(str(r.raster), read_detections(str(r.truth))) for r in refs]
    classes = category_map()
    learned_as = sorted({classes.get(d.class_name, d.class_name) for _, dets in examples for d in dets})
    newer = model.exists() and all(model.stat().st_mtime >= r.truth.stat().st_mtime for r in [*refs, held_out])
    if not retrain and newer and _kept_model_fits(model, learned_as):
        return model
    model.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    train_detector(TrainingParameters(
        output_model=str(model), examples=examples,
        validation_examples=[(str(held_out.raster), read_detections(str(held_out.truth)))],
        class_map=classes, time_budget_min=minutes, max_steps=steps, crop_size=TRAINING_CROP_PX,
        seed=seed, min_heat_sigma=SITE_MIN_HEAT_SIGMA, min_class_weight=SITE_MIN_CLASS_WEIGHT),
        progress.stage(0.1, 1.0))
    progress.report(1.0, f"Site model trained in {time.monotonic() - started:.0f} s")
    return model


def _kept_model_fits(model: Path, learned_as: list[str]) -> bool:
    """Whether a kept model was trained as this version trains: on these classes (sorted), with
    SITE_MIN_HEAT_SIGMA and SITE_MIN_CLASS_WEIGHT, its threshold chosen on a held-out capture by
    this version's rule (THRESHOLD_RULE; an earlier version's model is trained again). True when
    it cannot be read here (no onnxruntime: the model is kept as it is)."""
    try:
        from ..core.equipment.onnx_model import OnnxDetector

        meta = OnnxDetector(str(model)).metadata
    except Exception:  # noqa: BLE001 (no onnxruntime, or an unreadable file: keep the model as it is)
        return True
    from ..core.equipment.learned.data import MIN_HEAT_SIGMA
    from ..core.equipment.learned.train import THRESHOLD_RULE

    training = meta.raw.get("training")
    training = training if isinstance(training, dict) else {}
    return (sorted(meta.class_names) == learned_as
            and training.get("min_heat_sigma", MIN_HEAT_SIGMA) == SITE_MIN_HEAT_SIGMA
            and training.get("min_class_weight", 0.0) == SITE_MIN_CLASS_WEIGHT
            and training.get("validation_images", 0) > 0
            and training.get("threshold_rule") == THRESHOLD_RULE)
