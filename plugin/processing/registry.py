"""Finds the algorithm classes: every module `alg_*.py` in this folder, one algorithm each."""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import traceback
from pathlib import Path

from qgis.core import Qgis, QgsMessageLog, QgsProcessingAlgorithm


def algorithm_classes() -> list[type]:
    """The QgsProcessingAlgorithm subclasses defined in this package's alg_* modules."""
    classes: list[type] = []
    for info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda i: i.name):
        if not info.name.startswith("alg_"):
            continue
        try:
            module = importlib.import_module(f"{__package__}.{info.name}")
        except Exception:  # one broken module must not hide the other algorithms
            QgsMessageLog.logMessage(
                f"SiteWatch could not load {info.name}:\n{traceback.format_exc()}", "SiteWatch", Qgis.MessageLevel.Critical
            )
            continue
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, QgsProcessingAlgorithm) and obj.__module__ == module.__name__:
                classes.append(obj)
    return classes
