"""Where a site keeps the models trained for it (one function, so every caller agrees)."""
from __future__ import annotations

from pathlib import Path


def learned_model_path(workspace_path: str) -> Path:
    """The site's learned-engine model: `<workspace folder>/models/learned.onnx`."""
    return Path(workspace_path).parent / "models" / "learned.onnx"
