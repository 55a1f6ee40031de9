"""The provider's algorithm ids are a public contract; qgis_process sees them too."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from qgis.core import QgsApplication

EXPECTED_IDS = {
    "sitewatch:coregister",
    "sitewatch:detectchanges",
    "sitewatch:detectequipment",
    "sitewatch:compareequipment",
    "sitewatch:trainequipmentdetector",
    "sitewatch:analyzesite",
    "sitewatch:exportannotations",
    "sitewatch:importannotations",
    "sitewatch:sitetimeline",
    "sitewatch:siteanalysismodel",
    "sitewatch:sitetimelinemodel",
}
QGIS_PROCESS = "/usr/bin/qgis_process.bin"


def test_provider_offers_every_algorithm(qgis_app, qgis_processing):
    from sitewatch.plugin.processing.provider import SiteWatchProvider

    registry = QgsApplication.processingRegistry()
    added = registry.providerById("sitewatch") is None
    if added:
        registry.addProvider(SiteWatchProvider())
    try:
        ids = {alg.id() for alg in registry.providerById("sitewatch").algorithms()}
        assert ids == EXPECTED_IDS
        for alg in registry.providerById("sitewatch").algorithms():
            assert alg.shortHelpString(), f"{alg.id()} has no help"
            for parameter in alg.parameterDefinitions():
                assert parameter.help(), f"{alg.id()}: parameter {parameter.name()} has no help text"
    finally:
        if added:
            registry.removeProvider(registry.providerById("sitewatch"))


@pytest.mark.skipif(not Path(QGIS_PROCESS).exists(), reason="qgis_process.bin not installed")
def test_qgis_process_lists_the_algorithms(tmp_path):
    plugins = Path(__file__).resolve().parents[2] / "build" / "pkg"  # holds the `sitewatch` link
    env = dict(os.environ, HOME=str(tmp_path), QGIS_PLUGINPATH=str(plugins), QT_QPA_PLATFORM="offscreen",
               QGIS_CUSTOM_CONFIG_PATH=str(tmp_path / "profile"))
    enable = subprocess.run([QGIS_PROCESS, "plugins", "enable", "sitewatch"], env=env, capture_output=True,
                            text=True, timeout=180)
    assert enable.returncode == 0, enable.stderr
    listing = subprocess.run([QGIS_PROCESS, "list"], env=env, capture_output=True, text=True, timeout=180)
    assert listing.returncode == 0, listing.stderr
    for alg_id in EXPECTED_IDS:
        assert alg_id in listing.stdout
