"""The release ZIP installs and loads like Plugin Manager's 'Install from ZIP' would."""
from __future__ import annotations

import importlib
import sys
import zipfile
from pathlib import Path

from qgis.core import QgsApplication

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import package  # noqa: E402


def test_zip_has_plugin_and_no_dev_files(tmp_path):
    zip_path = package.build_zip(tmp_path)
    names = zipfile.ZipFile(zip_path).namelist()
    assert "sitewatch/metadata.txt" in names and "sitewatch/__init__.py" in names
    assert "sitewatch/plugin/sitewatch_plugin.py" in names
    assert "sitewatch/resources/icons/sitewatch.svg" in names
    assert "sitewatch/resources/catalogue/equipment.json" in names
    forms = sorted(p.name for p in (ROOT / "ui").glob("*.ui"))
    assert forms and [n for n in forms if f"sitewatch/ui/{n}" not in names] == []  # the Designer forms
    assert all(name.startswith("sitewatch/") for name in names)
    forbidden = ("tests/", "tools/", ".ci/", "Makefile", "requirements-dev.txt", "__pycache__", ".git")
    assert not [n for n in names if any(part in n for part in forbidden)]


def test_plugin_loads_from_unpacked_zip_under_another_name(tmp_path, qgis_app, qgis_iface, qgis_processing):
    zip_path = package.build_zip(tmp_path / "dist")
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(zip_path).extractall(plugins)
    (plugins / "sitewatch").rename(plugins / "sitewatch_from_zip")  # relative imports only
    sys.path.insert(0, str(plugins))
    try:
        module = importlib.import_module("sitewatch_from_zip")
        assert Path(module.__file__).parent == plugins / "sitewatch_from_zip"
        plugin = module.classFactory(qgis_iface)
        plugin.initGui()
        provider = QgsApplication.processingRegistry().providerById("sitewatch")
        assert provider is not None
        assert type(provider).__module__.startswith("sitewatch_from_zip.")
        plugin.unload()
        assert QgsApplication.processingRegistry().providerById("sitewatch") is None
    finally:
        sys.path.remove(str(plugins))
        for name in [m for m in sys.modules if m.startswith("sitewatch_from_zip")]:
            del sys.modules[name]
