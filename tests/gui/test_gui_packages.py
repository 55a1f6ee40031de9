"""Optional packages from QGIS: SiteWatch's folder on the Python path, the installer's list,
its pip command and its message when the package index cannot be reached (nothing downloads)."""
from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

PROBE = "sitewatch_probe_pkg"


@pytest.fixture()
def packages_folder(qgis_app, monkeypatch):
    """SiteWatch's folder in the (temporary) QGIS profile of the tests, emptied afterwards."""
    import shutil

    from sitewatch.plugin.gui.packages import sitewatch_packages_folder

    folder = sitewatch_packages_folder()
    assert "sitewatch-packages" in folder.parts and not folder.exists()
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(folder)])
    yield folder
    sys.modules.pop(PROBE, None)
    shutil.rmtree(folder.parent, ignore_errors=True)


def test_a_package_in_the_folder_imports_after_plugin_start(packages_folder, qgis_iface):
    import sitewatch
    from sitewatch.plugin.core.deps import is_available, require

    (packages_folder / PROBE).mkdir(parents=True)
    (packages_folder / PROBE / "__init__.py").write_text("VALUE = 42\n")
    assert importlib.util.find_spec(PROBE) is None
    plugin = sitewatch.classFactory(qgis_iface)  # plugin start: before any lazy import
    assert str(packages_folder) in sys.path
    assert sys.path[-1] == str(packages_folder)  # after QGIS's own paths: it never shadows them
    assert is_available(PROBE) and require(PROBE).VALUE == 42
    sitewatch.classFactory(qgis_iface)
    assert sys.path.count(str(packages_folder)) == 1
    del plugin


def test_the_dialog_lists_what_each_package_enables_and_its_status(packages_folder, qgis_iface):
    from importlib.metadata import version

    from sitewatch.plugin.core.deps import OPTIONAL_PACKAGES
    from sitewatch.plugin.gui.packages import COLUMN_ENABLES, COLUMN_PACKAGE, COLUMN_STATUS, PackagesDialog

    dialog = PackagesDialog(folder=packages_folder)
    table = dialog.table
    assert [table.item(r, COLUMN_PACKAGE).text() for r in range(table.rowCount())] == ["onnxruntime", "numba", "torch", "onnx"]
    for row, package in enumerate(OPTIONAL_PACKAGES):
        status = table.item(row, COLUMN_STATUS).text()
        if importlib.util.find_spec(package.module) is None:
            assert status == "missing"
        else:
            assert status == f"installed, {version(package.requirement)}"
        assert table.item(row, COLUMN_ENABLES).text() == package.enables
    assert "Learned" in table.item(0, COLUMN_ENABLES).text()
    assert str(packages_folder) in dialog.folder_label.text()


def test_install_command_and_offline_failure(packages_folder, qgis_app, monkeypatch):
    """A missing package is installed with `python -m pip install --target <folder>`; with no
    reachable index the dialog says so in words (a closed local port stands in for no network)."""
    import numpy
    from qgis.PyQt.QtCore import QEventLoop, QTimer

    from sitewatch.plugin.core import deps
    from sitewatch.plugin.gui.packages import PackagesDialog

    missing = deps.OptionalPackage("sitewatch_not_a_package", "sitewatch-not-a-package", "nothing", "test", "n/a")
    monkeypatch.setattr(deps, "OPTIONAL_PACKAGES", deps.OPTIONAL_PACKAGES + (missing,))
    dialog = PackagesDialog(folder=packages_folder)
    assert dialog.ticked() == [missing]  # missing ones come ticked, installed ones cannot be
    dialog.extra_pip_args = ("--isolated", "--index-url", "http://127.0.0.1:9/simple", "--retries", "1", "--timeout", "2")
    process = dialog.install()
    assert process is not None and not dialog.install_button.isEnabled() and dialog.stop_button.isEnabled()
    command = dialog.command
    assert Path(command[0]).name.startswith("python") and command[1:5] == ["-m", "pip", "install", "--target"]
    assert command[5] == str(packages_folder) and command[-1] == "sitewatch-not-a-package"
    constraints = Path(command[command.index("--constraint") + 1])
    assert constraints.read_text().strip() == f"numpy=={numpy.__version__}"
    loop = QEventLoop()
    process.finished.connect(loop.quit)
    QTimer.singleShot(60000, loop.quit)
    loop.exec()
    qgis_app.processEvents()
    assert dialog.process is None
    message = dialog.message_label.text()
    assert "could not be reached" in message and "offline" in message, dialog.log_view.toPlainText()
    assert dialog.install_button.isEnabled()


def test_python_is_found_when_qgis_is_the_executable(monkeypatch):
    from sitewatch.plugin.core import deps

    monkeypatch.setattr(sys, "executable", "/usr/bin/qgis.bin")
    monkeypatch.setattr(sys, "_base_executable", "/usr/bin/qgis.bin", raising=False)
    python = deps.python_interpreter()
    assert python is not None and Path(python).name.startswith("python") and Path(python).is_file()


def test_pip_failure_messages():
    from sitewatch.plugin.core.deps import pip_failure_message

    offline = pip_failure_message(1, "WARNING: Retrying ... Failed to establish a new connection: [Errno -3] "
                                     "Temporary failure in name resolution", ["python", "-m", "pip"])
    assert "offline" in offline and "python -m pip" in offline
    other = pip_failure_message(1, "ERROR: No matching distribution found for foo", ["python"])
    assert other.startswith("pip failed (exit code 1): ERROR: No matching distribution found for foo")
    no_pip = pip_failure_message(1, "/usr/bin/python3: No module named pip", ["/usr/bin/python3", "-m", "pip"])
    assert no_pip.startswith("pip is not installed for this QGIS's Python (/usr/bin/python3)")
