"""Where a site keeps the models trained for it (one place, so every caller agrees)."""
from __future__ import annotations

from pathlib import Path

# the site's own detector (trained from its examples or reviews), relative to the workspace
# folder: the panel's Learned engine runs it, "Retrain from my reviews" writes it
LEARNED_MODEL = Path("models") / "learned.onnx"


def learned_model_path(workspace_path: str) -> Path:
    """The site's learned-engine model: `<workspace folder>/models/learned.onnx`."""
    return Path(workspace_path).parent / LEARNED_MODEL
