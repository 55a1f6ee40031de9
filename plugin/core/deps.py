"""One gate for optional heavy dependencies: import lazily, explain what is missing, and
install the missing ones into SiteWatch's own packages folder (QGIS-free: the folder is given)."""
from __future__ import annotations

import importlib
import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Optional

from .errors import MissingDependency

INSTALLER_HINT = "or in QGIS: menu Raster ▸ SiteWatch ▸ Optional packages…"


@dataclass(frozen=True)
class OptionalPackage:
    module: str  # import name
    requirement: str  # what pip installs
    enables: str  # what SiteWatch can do with it, for the installer's list
    purpose: str  # "... is needed to <purpose>"
    how: str  # how to install it by hand
    pip_args: tuple[str, ...] = ()


OPTIONAL_PACKAGES = (
    OptionalPackage(
        "onnxruntime", "onnxruntime", "Runs detection models: the Learned and ONNX model engines",
        "run ONNX detection models",
        "pip install onnxruntime  (in the Python that QGIS uses; OSGeo4W Shell on Windows, "
        f"/Applications/QGIS.app/Contents/MacOS/bin/pip3 on macOS), {INSTALLER_HINT}",
    ),
    OptionalPackage(
        "numba", "numba", "Faster change detection (compiled scoring kernels, about 1.5x)",
        "score changes with compiled kernels", f"pip install numba, {INSTALLER_HINT}",
    ),
    OptionalPackage(
        "torch", "torch", "Training an equipment detector for a site (with onnx)",
        "train an equipment detector",
        "Debian/Ubuntu: apt install python3-torch; elsewhere: pip install torch "
        f"--index-url https://download.pytorch.org/whl/cpu, {INSTALLER_HINT}",
        ("--extra-index-url", "https://download.pytorch.org/whl/cpu"),
    ),
    OptionalPackage(
        "onnx", "onnx", "Saving a trained detector as an ONNX model file",
        "write trained models as ONNX files",
        f"Debian/Ubuntu: apt install python3-onnx; elsewhere: pip install onnx, {INSTALLER_HINT}",
    ),
)
_BY_MODULE = {p.module: p for p in OPTIONAL_PACKAGES}
_OTHERS = {  # outside QGIS (not in the panel's installer)
    "scipy": ("use optional scientific routines", "pip install scipy"),
    "distributed": ("run many sites on Dask (threads here or a Dask cluster)", 'pip install "dask[distributed]"'),
}
# packages QGIS itself ships: pip may fetch them as dependencies, but they must not shadow QGIS's own
SHIPPED_WITH_QGIS = ("numpy",)


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
        known = _BY_MODULE.get(name)
        purpose, how = (known.purpose, known.how) if known else _OTHERS.get(name, ("use this feature", f"pip install {name}"))
        raise MissingDependency(
            f"The optional package '{name}' is needed to {purpose} but could not be "
            f"imported ({exc}). Install it with: {how}"
        ) from exc


# ------------------------------------------------------------------ the packages folder
def packages_folder(profile_dir: str) -> Path:
    """SiteWatch's packages folder inside a QGIS profile, one per Python version (compiled
    packages only fit the Python they were built for)."""
    return Path(profile_dir) / "python" / "sitewatch-packages" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


def add_packages_folder(folder: Path) -> bool:
    """Put the folder on sys.path (after QGIS's own paths: it only adds, never shadows);
    True when it was added now."""
    entry = str(folder)
    if entry in sys.path:
        return False
    sys.path.append(entry)
    importlib.invalidate_caches()
    return True


@dataclass(frozen=True)
class PackageStatus:
    package: OptionalPackage
    installed: bool
    version: str = ""
    location: str = ""

    @property
    def text(self) -> str:
        if not self.installed:
            return "missing"
        return f"installed, {self.version}" if self.version else "installed"


def package_status(package: OptionalPackage) -> PackageStatus:
    """Whether the package can be imported, without importing it (torch and numba are slow to import)."""
    importlib.invalidate_caches()
    try:
        spec = importlib.util.find_spec(package.module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return PackageStatus(package, False)
    try:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version(package.requirement)
        except PackageNotFoundError:
            found = ""
    except ImportError:  # pragma: no cover (Python < 3.8)
        found = ""
    location = spec.origin or (list(spec.submodule_search_locations or [""])[0])
    return PackageStatus(package, True, found, str(Path(location).parent) if location else "")


# ------------------------------------------------------------------ pip
def python_interpreter() -> Optional[str]:
    """The Python interpreter QGIS runs on. Inside QGIS, sys.executable is often the QGIS
    binary (qgis.bin on Linux, qgis-bin.exe on Windows, QGIS.app on macOS), not Python."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    prefix = Path(sys.exec_prefix)
    candidates = [
        sys.executable,
        getattr(sys, "_base_executable", ""),
        prefix / "bin" / f"python{version}",
        prefix / "bin" / "python3",
        prefix / "python.exe",
        prefix / "python3.exe",
        Path(sys.executable).parent / "python3",
        Path(sys.executable).parent / "python.exe",
        shutil.which(f"python{version}") or "",
    ]
    for candidate in candidates:
        path = Path(str(candidate))
        if str(candidate) and path.name.lower().startswith("python") and path.is_file():
            return str(path)
    return None


def pip_install_command(python: str, packages: list[OptionalPackage], target: Path,
                        constraints: Optional[Path] = None, extra_args: tuple[str, ...] = ()) -> list[str]:
    """The pip command line that installs `packages` into `target` (see write_constraints)."""
    args = [python, "-m", "pip", "install", "--target", str(target), "--upgrade",
            "--disable-pip-version-check", "--no-input", "--no-warn-script-location"]
    if constraints is not None:
        args += ["--constraint", str(constraints)]
    for pip_args in dict.fromkeys(p.pip_args for p in packages):
        args.extend(pip_args)
    args.extend(extra_args)
    args.extend(p.requirement for p in packages)
    return args


def write_constraints(target: Path) -> Path:
    """A pip constraints file pinning the packages QGIS ships to the versions it runs, so that
    compiled dependencies match them (pip installs them too; prune_shipped removes them after)."""
    import numpy

    target.mkdir(parents=True, exist_ok=True)
    path = target / "sitewatch-constraints.txt"
    path.write_text(f"numpy=={numpy.__version__}\n", encoding="utf-8")
    return path


def prune_shipped(target: Path) -> list[str]:
    """Remove from the folder the packages QGIS ships itself (numpy), so QGIS's own stay in use."""
    removed = []
    for name in SHIPPED_WITH_QGIS:
        for path in list(target.glob(name)) + list(target.glob(f"{name}-*.dist-info")) + list(target.glob(f"{name}.libs")):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


OFFLINE_MARKERS = (
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "Connection refused",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "getaddrinfo failed",
    "No connection could be made",
)


def pip_failure_message(exit_code: int, output: str, command: list[str]) -> str:
    """What went wrong with a pip run, in words a user can act on."""
    by_hand = " ".join(command)
    if any(marker in output for marker in OFFLINE_MARKERS):
        return ("The Python package index (PyPI) could not be reached: this computer seems to be offline "
                "or behind a proxy. Connect to the internet (or set the proxy in the environment) and try "
                f"again, or run by hand where there is a connection: {by_hand}")
    if "No module named pip" in output:
        return (f"pip is not installed for this QGIS's Python ({command[0]}). Install it (Debian/Ubuntu: "
                "apt install python3-pip; elsewhere: python -m ensurepip), then try again.")
    last = [line for line in output.strip().splitlines() if line.strip()][-3:]
    return f"pip failed (exit code {exit_code}): {' / '.join(last) or 'no output'}. The command was: {by_hand}"
