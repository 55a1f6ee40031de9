"""The sample site's own detector: the learned engine trained on its reviewed reference captures.

    model = train_site_model(site_dir, size_px=4096, seed=7)   # site_dir/models/learned.onnx

What an analyst does after reviewing a site's earlier captures (review, then "Retrain from my
reviews"): every reviewed object of the reference captures (reference.py) becomes a training
example of its category (heavy transport, fighters and bombers, helicopters, ...; air-defence
equipment by class: launcher, radar, Pantsir). The model is
kept beside the site and used again while the reference captures are unchanged.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Optional, Union

from ..core.equipment.catalogue import load_catalogue
from ..core.equipment.io import read_detections
from ..core.progress import Progress
from ..store.models import LEARNED_MODEL
from .reference import generate_reference_captures

TRAINING_STEPS = 3300  # training steps: about 19 min on one torch thread (20 min beside `make test`)
TRAINING_MINUTES = 30.0  # cap of the training's wall time (a busy machine takes longer for the same steps)
TRAINING_CROP_PX = 160  # training crops (model pixels): small crops, many steps within the budget
SITE_MODEL_MIN_SCORE = 0.275  # detections under this score are dropped: chosen on the seed-7 demo site only
# cars and trucks are a cell or two of the model's output: a wider heatmap peak lets them score as
# high as aircraft do (TrainingParameters.min_heat_sigma; chosen on the seed-7 demo site only, where
# 1.0 counted 79 of date 1's 90 vehicles and 0.5 counted 57-65; README's table has the figures)
SITE_MIN_HEAT_SIGMA = 1.0


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
    refs = generate_reference_captures(site_dir, size_px, seed, progress=progress.stage(0.0, 0.1))
    model = site_dir / LEARNED_MODEL
    examples = [(str(r.raster), read_detections(str(r.truth))) for r in refs]
    classes = category_map()
    learned_as = sorted({classes.get(d.class_name, d.class_name) for _, dets in examples for d in dets})
    newer = model.exists() and all(model.stat().st_mtime >= r.truth.stat().st_mtime for r in refs)
    if not retrain and newer and _kept_model_fits(model, learned_as):
        return model
    model.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    train_detector(TrainingParameters(
        output_model=str(model), examples=examples,
        class_map=classes, time_budget_min=minutes, max_steps=steps, crop_size=TRAINING_CROP_PX,
        seed=seed, det_conf=SITE_MODEL_MIN_SCORE, min_heat_sigma=SITE_MIN_HEAT_SIGMA),
        progress.stage(0.1, 1.0))
    progress.report(1.0, f"Site model trained in {time.monotonic() - started:.0f} s")
    return model


def _kept_model_fits(model: Path, learned_as: list[str]) -> bool:
    """Whether a kept model was trained as this version trains: on these classes (sorted) and with
    SITE_MIN_HEAT_SIGMA (an earlier version's model is trained again). True when it cannot be read
    here (no onnxruntime: the model is kept as it is)."""
    try:
        from ..core.equipment.onnx_model import OnnxDetector

        meta = OnnxDetector(str(model)).metadata
    except Exception:  # noqa: BLE001 (no onnxruntime, or an unreadable file: keep the model as it is)
        return True
    from ..core.equipment.learned.data import MIN_HEAT_SIGMA

    training = meta.raw.get("training")
    sigma = training.get("min_heat_sigma", MIN_HEAT_SIGMA) if isinstance(training, dict) else MIN_HEAT_SIGMA
    return sorted(meta.class_names) == learned_as and sigma == SITE_MIN_HEAT_SIGMA
