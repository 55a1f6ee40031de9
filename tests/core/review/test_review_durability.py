"""Nothing decided is lost: a killed process, several readers, a locked, damaged or read-only workspace."""
from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from review_helpers import registered

from sitewatch.plugin.store import review
from sitewatch.plugin.store.review import ReviewStore, ReviewStoreError
from sitewatch.plugin.store.review_session import ReviewSession
from sitewatch.plugin.store.review_state import derive

SCRIPT = Path(__file__).with_name("append_decisions.py")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_process_killed_mid_session_loses_no_committed_decision(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, _gpkg = registered(analysis_copy, site)
    proc = subprocess.Popen([sys.executable, str(SCRIPT), store.path, analysis_id, "100000"],
                            stdout=subprocess.PIPE, text=True)
    committed = []
    try:
        for line in proc.stdout:
            assert not line.startswith("ERROR"), line
            committed.append(int(line))
            if len(committed) >= 40:
                break
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # mid-session: it is writing the next decisions
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    reopened = ReviewStore(store.path)
    kept = {d.seq for d in reopened.decisions(analysis_id=analysis_id)}
    assert set(committed) <= kept
    assert reopened.integrity() == "ok"
    with sqlite3.connect(store.path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert derive(reopened, analysis_id).reviewed >= 1


def test_several_readers_at_once_and_a_writer_seen_by_all(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    reader = sqlite3.connect(store.path)
    reader.execute("BEGIN")
    n = reader.execute("SELECT count(*) FROM review_decisions").fetchone()[0]
    other = ReviewStore(store.path)  # a second reader while the first holds its read transaction
    assert len(other.decisions()) == n
    reader.execute("COMMIT")
    session = ReviewSession(store, analysis_id, gpkg)
    decision = session.accept(session.queue()[0].object_id)
    assert reader.execute("SELECT max(seq) FROM review_decisions").fetchone()[0] == decision.seq
    assert other.decisions()[-1].seq == decision.seq
    reader.close()


def test_a_locked_workspace_says_so_and_loses_nothing(analysed_site, analysis_copy, monkeypatch):
    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    session = ReviewSession(store, analysis_id, gpkg)
    target = session.queue()[0].object_id
    session.accept(target)
    monkeypatch.setattr(review, "LOCK_TIMEOUT_S", 0.2)
    blocker = sqlite3.connect(store.path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(ReviewStoreError, match="locked by another program"):
            session.reject(target)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert derive(store, analysis_id).by_id()[target].status == "accepted"
    session.reject(target)  # the lock gone, the same decision goes through
    assert derive(store, analysis_id).by_id()[target].status == "rejected"


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_workspace_gives_a_clear_message_and_is_left_as_is(analysed_site, analysis_copy, damage):
    site, _ = analysed_site
    store, analysis_id, _gpkg = registered(analysis_copy, site)
    path = Path(store.path)
    data = path.read_bytes()
    path.write_bytes(b"this is not a GeoPackage " * 200 if damage == "garbage" else data[: len(data) // 3])
    before = _digest(path)
    for call in (lambda s: s.decisions(), lambda s: s.append("x", "accept")):
        with pytest.raises(ReviewStoreError, match="damaged"):
            call(ReviewStore(str(path)))
    assert _digest(path) == before


def test_a_read_only_workspace_gives_a_clear_message_and_is_left_as_is(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, _gpkg = registered(analysis_copy, site)
    folder = Path(tempfile.mkdtemp(prefix="sitewatch-readonly-"))
    try:
        path = folder / "workspace.gpkg"
        shutil.copy2(store.path, path)
        n = len(store.decisions())
        before = _digest(path)
        # root writes anything: the writer then runs as an ordinary user who may only read, with its
        # own copy of the package and script (the working tree may sit where that user cannot look)
        options: dict = {}
        command = [sys.executable, str(SCRIPT), str(path), analysis_id, "3"]
        if os.geteuid() == 0:
            root = Path(__file__).resolve().parents[3]
            package = folder / "pkg" / "sitewatch"
            shutil.copytree(root / "plugin", package / "plugin", ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy2(root / "__init__.py", package / "__init__.py")
            shutil.copy2(SCRIPT, folder / SCRIPT.name)
            subprocess.run(["chmod", "-R", "a+rX", str(folder)], check=True)
            command = [os.path.realpath(sys.executable), str(folder / SCRIPT.name), str(path), analysis_id, "3"]
            options = {"user": "nobody", "cwd": "/", "env": {**os.environ, "SITEWATCH_PKG_DIR": str(folder / "pkg")}}
        os.chmod(path, 0o444)
        os.chmod(folder, 0o555)
        out = subprocess.run(command, capture_output=True, text=True, timeout=120, **options)
        assert out.returncode == 2, out.stderr
        assert "cannot be written (read-only" in out.stdout and "not saved" in out.stdout
        assert _digest(path) == before
        assert len(ReviewStore(str(path)).decisions()) == n  # still readable, nothing lost
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(folder, ignore_errors=True)


def test_an_unwritable_analysis_file_keeps_the_decision_and_says_so(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, gpkg = registered(analysis_copy, site)
    session = ReviewSession(store, analysis_id, gpkg)
    target = session.queue()[0].object_id
    Path(gpkg).write_bytes(b"damaged" * 1000)
    session.accept(target)
    assert "decision is saved" in session.outputs_problem and "could not be updated" in session.outputs_problem
    assert derive(ReviewStore(store.path), analysis_id).by_id()[target].status == "accepted"
