"""A change run never leaves the compiled kernels loading in the background when it ends: a
process that exits right after a failed run must not crash (exit 139) in its shutdown."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from change_helpers import textured, write_raster

ROOT = Path(__file__).resolve().parents[3]


def _loader_alive() -> bool:
    from sitewatch.plugin.core.change.acceleration import LOADER_NAME

    return any(t.name == LOADER_NAME and t.is_alive() for t in threading.enumerate())


@pytest.mark.parametrize("how", ["no_overlap", "cancelled_after_preload"])
def test_failed_run_leaves_no_background_loading(tmp_path, monkeypatch, how):
    from sitewatch.plugin.core.change import ChangeParameters, acceleration, detect_changes
    from sitewatch.plugin.core.errors import Cancelled, RastersDoNotOverlap
    from sitewatch.plugin.core.progress import Progress

    monkeypatch.delenv(acceleration.DISABLE_ENV, raising=False)
    monkeypatch.setattr(acceleration, "_state", {})  # as in a fresh process: nothing loaded yet
    img = textured(64, 1)
    before = write_raster(tmp_path / "b.tif", img)
    offset = 600000.0 if how == "no_overlap" else 500000.0
    after = write_raster(tmp_path / "a.tif", img, geotransform=(offset, 0.5, 0, 4000000.0, 0, -0.5))
    started = []

    def cancel_once_loading(fraction, message):
        started.append(_loader_alive())
        return fraction < 0.03  # the report after the preload cancels

    expected = RastersDoNotOverlap if how == "no_overlap" else Cancelled
    with pytest.raises(expected):
        detect_changes(ChangeParameters(before=before, after=after, output_dir=str(tmp_path / "out")),
                       Progress(cancel_once_loading))
    assert not _loader_alive()
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


_FAILING_RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tools!r})
    import pkgpath  # noqa: F401
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes
    from sitewatch.plugin.core.errors import SiteWatchError
    from sitewatch.plugin.core.progress import Progress
    try:
        detect_changes(ChangeParameters(before={before!r}, after={after!r}, output_dir={out!r}),
                       Progress(lambda f, m: f < 0.03))
    except SiteWatchError as exc:
        print(exc)
        sys.exit(3)
""")


def test_processes_exiting_after_a_failed_run_do_not_crash(tmp_path):
    """The failing run in fresh processes, exiting as soon as it failed (where a background
    load raced the interpreter's shutdown). tools/exit_loop.py runs 50 through qgis_process."""
    pytest.importorskip("numba")
    img = textured(64, 1)
    before = write_raster(tmp_path / "b.tif", img)
    after = write_raster(tmp_path / "a.tif", img)
    script = tmp_path / "run.py"
    script.write_text(_FAILING_RUN.format(tools=str(ROOT / "tools"), before=before, after=after,
                                          out=str(tmp_path / "out")))
    for _ in range(6):
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
        assert done.returncode == 3, (done.returncode, done.stderr[-2000:])
        assert "Cancelled" in done.stdout
        assert "Traceback" not in done.stderr
