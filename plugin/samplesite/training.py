"""The sample site's own detector: the learned engine trained on its reviewed reference captures.

    model = train_site_model(site_dir, size_px=4096, seed=7)   # site_dir/models/learned.onnx

What an analyst does after reviewing a site's earlier captures (review, then "Retrain from my
reviews"): every reviewed object of the reference captures (reference.py) becomes a training
example of its category (heavy transport, fighters and bombers, helicopters, ...). The model is
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


def category_map() -> dict[str, str]:
    """Class id -> its category label: the model learns categories (a few examples of each type
    would not teach it an Il-76 from an An-124; the category is what a count is about)."""
    cat = load_catalogue()
    return {cls: cat.category_label(cls) for cls in cat.classes}


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
    if not retrain and model.exists() and all(model.stat().st_mtime >= r.truth.stat().st_mtime for r in refs):
        return model
    model.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    train_detector(TrainingParameters(
        output_model=str(model), examples=[(str(r.raster), read_detections(str(r.truth))) for r in refs],
        class_map=category_map(), time_budget_min=minutes, max_steps=steps, crop_size=TRAINING_CROP_PX,
        seed=seed, det_conf=SITE_MODEL_MIN_SCORE),
        progress.stage(0.1, 1.0))
    progress.report(1.0, f"Site model trained in {time.monotonic() - started:.0f} s")
    return model
