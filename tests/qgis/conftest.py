"""Shared fixtures for the Processing tests: the SiteWatch provider and one way to run an algorithm."""
from __future__ import annotations

import pytest


@pytest.fixture
def provider(qgis_app, qgis_processing, qgis_new_project):
    """The `sitewatch` provider, registered for the test when the plugin has not done it."""
    from qgis.core import QgsApplication

    from sitewatch.plugin.processing.provider import SiteWatchProvider

    registry = QgsApplication.processingRegistry()
    added = None
    if registry.providerById("sitewatch") is None:
        added = SiteWatchProvider()
        registry.addProvider(added)
    yield registry.providerById("sitewatch")
    if added is not None:
        registry.removeProvider(added)
