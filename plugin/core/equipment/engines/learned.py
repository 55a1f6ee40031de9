"""Learned engine: runs a detector trained by SiteWatch (`sitewatch:trainequipmentdetector`)."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

from ...errors import InputError
from ...progress import Progress
from ..onnx_model import OnnxDetector
from .model import run_onnx_detector

if TYPE_CHECKING:
    from ..api import DetectionParameters
    from ..detection import Detection

LOG = logging.getLogger(__name__)


class LearnedEngine:
    """The same ONNX runtime path as the model engine, for models trained in SiteWatch."""

    name = "learned"

    def detect(self, params: "DetectionParameters", progress: Optional[Progress]) -> "list[Detection]":
        if not params.model_path:
            raise InputError("The 'learned' engine needs a trained model file (.onnx): train one with "
                             "'Train equipment detector' in the SiteWatch Toolbox.")
        detector = OnnxDetector(params.model_path)
        if detector.metadata.raw.get("sitewatch_engine") != "learned":
            LOG.info("%s was not trained by SiteWatch; running it as a generic model", detector.path.name)
        return run_onnx_detector(params, detector, self.name, progress)
