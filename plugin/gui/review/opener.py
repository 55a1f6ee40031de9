"""Open the review of the analysis the SiteWatch panel shows: register it in the site's review
history (once), write its reviewed layers, add them to its group and show the review panel."""
from __future__ import annotations

from dataclasses import dataclass

from qgis.core import QgsProject

from ...layers.analysis_layers import GROUP_PROPERTY
from ...store.review import ReviewStore
from ...store.review_analysis import register_analysis
from ...store.review_session import ReviewSession


class NothingToReview(Exception):
    """No analysis is shown, or it is not in the site's history."""


@dataclass
class ShownAnalysis:
    workspace_path: str
    record: object  # store.workspace.AnalysisRecord
    group: object  # QgsLayerTreeGroup


def shown_analysis(dock) -> ShownAnalysis:
    """The site and analysis record of the group the panel lists (its results table)."""
    site = getattr(dock, "site", None)
    group = dock.current_group() if dock is not None else None
    if site is None or group is None:
        raise NothingToReview("Open a site and run or reopen one of its analyses first: the review works on "
                              "the analysis the SiteWatch panel shows.")
    gpkg = group.customProperty(GROUP_PROPERTY, "")
    record = next((r for r in site.workspace().analyses() if r.gpkg_path == gpkg), None)
    if record is None:
        raise NothingToReview(f"The analysis shown ({group.name()}) is not in the history of site {site.name}.")
    return ShownAnalysis(site.workspace_path, record, group)


def open_session(workspace_path: str, record) -> ReviewSession:
    """The review session of an analysis record (registered in the history on first use)."""
    store = ReviewStore(workspace_path)
    register_analysis(store, record.id, record.gpkg_path, record.before_path, record.after_path,
                      record.before_date, record.after_date)
    session = ReviewSession(store, record.id, record.gpkg_path)
    session.refresh()  # the reviewed layers exist before they are added to the map
    return session


def open_review_panel(iface, shown: ShownAnalysis, parent=None):
    """A ReviewPanel on the shown analysis, its reviewed layer added on top of the group."""
    from ...layers.review_layers import add_reviewed_layer
    from .panel import ReviewPanel

    session = open_session(shown.workspace_path, shown.record)
    layer = add_reviewed_layer(shown.group, shown.record.gpkg_path, QgsProject.instance())
    return ReviewPanel(iface, session, shown.record.title, shown.group, layer, parent)


