"""The panel's AnalysisTask: expected failures read as one sentence, defects are logged with their
traceback in the log file the message names, an unwritable output folder is found before the work."""
from __future__ import annotations

import errno
import os

import pytest


def _params(out):
    from sitewatch.plugin.core.pipeline import AnalysisParameters

    return AnalysisParameters(site_name="Base", before_path="b.tif", after_path="a.tif", output_dir=str(out))


def _failing(exc):
    def runner(params, progress):
        raise exc

    return runner


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    from sitewatch.plugin.core.failures import LOG_DIR_ENV

    monkeypatch.setenv(LOG_DIR_ENV, str(tmp_path / "logs"))
    return tmp_path / "logs"


def test_defect_is_logged_and_shown_short(qgis_app, tmp_path, log_dir):
    from sitewatch.plugin.tasks import AnalysisTask

    task = AnalysisTask(_params(tmp_path / "out"), runner=_failing(KeyError("band_keys")))
    messages = []
    task.failed.connect(messages.append)
    assert task.run() is False
    task.finished(False)
    (message,) = messages
    assert message.startswith("Unexpected error (KeyError") and str(log_dir / "sitewatch.log") in message
    assert "Traceback" not in message and "Traceback" in (log_dir / "sitewatch.log").read_text()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("exc, expected", [
    (OSError(errno.ENOSPC, "No space left on device", "/data/site/score.tif"), "disk is full (score.tif)"),
    (PermissionError(errno.EACCES, "Permission denied", "/data/site"), "Permission denied (site)"),
    (MemoryError(), "Not enough memory"),
])
def test_expected_failures_read_as_one_sentence(qgis_app, tmp_path, log_dir, exc, expected):
    from sitewatch.plugin.tasks import AnalysisTask

    task = AnalysisTask(_params(tmp_path / "out"), runner=_failing(exc))
    assert task.run() is False
    assert expected in task.error_message()
    assert not log_dir.exists()  # nothing to log: not a defect


def test_unwritable_output_folder_is_found_before_the_work(qgis_app, tmp_path, log_dir):
    from sitewatch.plugin.tasks import AnalysisTask

    if os.geteuid() == 0:
        folder = "/sys/sitewatch-analysis"
    else:
        (tmp_path / "ro").mkdir(mode=0o555)
        folder = str(tmp_path / "ro" / "analysis")
    called = []
    task = AnalysisTask(_params(folder), runner=lambda params, progress: called.append(1))
    assert task.run() is False
    assert "cannot be written" in task.error_message() and not called
