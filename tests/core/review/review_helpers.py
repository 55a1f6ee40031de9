"""Helpers of the review tests: a site workspace with one registered analysis."""
from __future__ import annotations

from pathlib import Path

from sitewatch.plugin.store.review import ReviewStore
from sitewatch.plugin.store.review_analysis import register_analysis


def registered(analysis: Path, site=None, workspace: Path | None = None) -> tuple[ReviewStore, str, str]:
    """(store, analysis id, analysis GeoPackage) for an analysis folder registered in a new workspace."""
    workspace = workspace or analysis.parent.parent / "workspace.gpkg"
    store = ReviewStore(str(workspace))
    gpkg = str(analysis / "analysis.gpkg")
    register_analysis(store, analysis.name, gpkg, str(site.before) if site else "", str(site.after) if site else "",
                      "2024-12-09", "2024-12-13")
    return store, analysis.name, gpkg
