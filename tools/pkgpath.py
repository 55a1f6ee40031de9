"""Make the working tree importable as the package `sitewatch` (as QGIS imports a plugin).

The repository root is the plugin folder; QGIS imports it by its folder name. Scripts and
tests link it as build/pkg/sitewatch and put build/pkg on sys.path.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_NAME = "sitewatch"


def add_package_to_path(package_name: str = PACKAGE_NAME) -> Path:
    """Link the repo root as build/pkg/<package_name> and put build/pkg first on sys.path."""
    pkg_dir = REPO_ROOT / "build" / "pkg"
    pkg_dir.mkdir(parents=True, exist_ok=True)
    link = pkg_dir / package_name
    if not link.exists():
        try:
            os.symlink(REPO_ROOT, link, target_is_directory=True)
        except FileExistsError:
            pass
    if str(pkg_dir) not in sys.path:
        sys.path.insert(0, str(pkg_dir))
    return pkg_dir


add_package_to_path()
