"""A run killed half-way (SIGTERM, SIGKILL) leaves its temporary files in one hidden run folder,
which the next run writing there removes: afterwards the folder holds only that run's outputs."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "core" / "change"))

_KILLED_RUN = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tools!r})
    import pkgpath  # noqa: F401
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes
    from sitewatch.plugin.core.progress import Progress

    def hold(fraction, message):
        if fraction >= 0.25:  # the score pass is writing: temporary files exist
            print("writing", flush=True)
            time.sleep(60)
        return True

    detect_changes(ChangeParameters(before={before!r}, after={after!r}, output_dir={out!r}), Progress(hold))
""")


def _pair(tmp_path):
    from change_helpers import textured, write_raster

    img = textured(256, 3)
    after = img.copy()
    after[:, 100:140, 100:140] += 80
    return write_raster(tmp_path / "b.tif", img), write_raster(tmp_path / "a.tif", after)


def _detect(before, after, out):
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    return detect_changes(ChangeParameters(before=before, after=after, output_dir=str(out)))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_next_run_removes_what_a_killed_run_left(tmp_path, sig):
    before, after = _pair(tmp_path)
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(_KILLED_RUN.format(tools=str(ROOT / "tools"), before=before, after=after, out=str(out)))
    env = dict(os.environ, SITEWATCH_NO_COMPILED="1")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout.readline().strip() == "writing"
        left = [p.name for p in out.iterdir()]
        assert any(name.startswith(".sitewatch-run-") for name in left), left
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.stdout.close()
    assert any(p.name.startswith(".sitewatch-run-") for p in out.iterdir())  # what the kill left

    _detect(before, after, out)
    clean = tmp_path / "clean"
    _detect(before, after, clean)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in clean.iterdir())
    assert not any(p.name.startswith(".") for p in out.iterdir())


def test_sweep_keeps_the_folders_of_live_processes(tmp_path):
    from sitewatch.plugin.core import scratch

    mine = scratch.run_folder(str(tmp_path))
    (Path(mine) / "part.tif").write_bytes(b"x")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    start = scratch._start_time(live.pid)
    try:
        theirs = tmp_path / f"{scratch.PREFIX}{live.pid}-{start or '0'}"
        recycled = tmp_path / f"{scratch.PREFIX}{live.pid}-1"  # same pid, another start: its owner is gone
        dead = tmp_path / f"{scratch.PREFIX}999999999-0"
        for folder in (theirs, recycled, dead):
            folder.mkdir()
        removed = scratch.sweep(str(tmp_path))
    finally:
        live.kill()
        live.wait()
    assert str(dead) in removed and not dead.exists()
    assert Path(mine).is_dir() and theirs.is_dir()
    if start:  # where the system tells start times, a recycled pid is not taken for the owner
        assert not recycled.exists()
    os.remove(Path(mine) / "part.tif")
    scratch.release(mine)
    assert not Path(mine).exists()


def test_a_run_folder_stays_while_another_thread_uses_it(tmp_path):
    import threading

    from sitewatch.plugin.core import scratch

    mine = scratch.run_folder(str(tmp_path))
    other = threading.Thread(target=lambda: scratch.release(scratch.run_folder(str(tmp_path))))
    other.start()
    other.join()
    assert Path(mine).is_dir()  # the other run's release did not pull it from under this one
    scratch.release(mine)
    assert not Path(mine).exists()
