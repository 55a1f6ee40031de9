"""One gate for optional heavy dependencies: import lazily, explain what is missing."""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependency

_HOW_TO_INSTALL = {
    "onnxruntime": (
        "run ONNX detection models",
        "pip install onnxruntime  (in the Python that QGIS uses; OSGeo4W Shell on Windows, "
        "/Applications/QGIS.app/Contents/MacOS/bin/pip3 on macOS)",
    ),
    "torch": (
        "train an equipment detector",
        "Debian/Ubuntu: apt install python3-torch; elsewhere: pip install torch "
        "--index-url https://download.pytorch.org/whl/cpu",
    ),
    "onnx": (
        "write trained models as ONNX files",
        "Debian/Ubuntu: apt install python3-onnx; elsewhere: pip install onnx",
    ),
    "scipy": ("use optional scientific routines", "pip install scipy"),
}


def is_available(name: str) -> bool:
    """True when the optional module imports."""
    try:
        importlib.import_module(name)
    except Exception:  # broken installs raise more than ImportError
        return False
    return True


def require(name: str) -> ModuleType:
    """Import an optional module or raise MissingDependency saying how to get it."""
    try:
        return importlib.import_module(name)
    except Exception as exc:
        purpose, how = _HOW_TO_INSTALL.get(name, ("use this feature", f"pip install {name}"))
        raise MissingDependency(
            f"The optional package '{name}' is needed to {purpose} but could not be "
            f"imported ({exc}). Install it with: {how}"
        ) from exc
