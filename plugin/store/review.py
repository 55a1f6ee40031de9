"""Review decisions of a site, kept in its workspace GeoPackage as an append-only history.

Every object of an analysis (detection or change region) is registered once with its machine
output, which is the first entry of its history ("detected"). Analysts then append decisions:
accept, reject, relabel, add, edit geometry, note; undo and redo append compensating entries
that point at the decision they cancel or restore. Nothing is ever updated or deleted, so the
reviewed state (review_state.py) is always derived from the whole history.

Each decision is one SQLite transaction, committed before `decide` returns: a process killed
afterwards loses nothing. Tables live beside the GeoPackage's own (not registered as layers);
several readers may open the workspace at once, a writer waits for a lock up to LOCK_TIMEOUT_S.

QGIS-free (sqlite3 and OGR).
"""
from __future__ import annotations

import getpass
import os
import sqlite3
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Optional

from ..core.gdal_scope import gdal_exceptions
from .workspace import WorkspaceError

SCHEMA_VERSION = 1
LOCK_TIMEOUT_S = 5.0

ACTIONS = ("detected", "accept", "reject", "relabel", "add", "edit_geometry", "note", "undo", "redo")
REVIEW_ACTIONS = ("accept", "reject", "relabel", "add", "edit_geometry", "note")
REGION_REASONS = ("shadow", "cloud", "misregistration", "seasonal")
REGION_CLASS = "change"  # the class of every change region

KIND_DETECTION = "detection"
KIND_REGION = "region"

# schema version -> statements that bring the previous version to it
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE IF NOT EXISTS review_analyses (
            analysis_id TEXT PRIMARY KEY, gpkg_path TEXT, before_path TEXT, after_path TEXT,
            before_date TEXT, after_date TEXT, max_distance_m REAL, registered TEXT)""",
        """CREATE TABLE IF NOT EXISTS review_objects (
            object_id TEXT PRIMARY KEY, analysis_id TEXT NOT NULL, kind TEXT NOT NULL, side TEXT NOT NULL,
            raster_path TEXT, crs_wkt TEXT, machine_class TEXT, score REAL, machine_wkt TEXT,
            machine_event TEXT, added INTEGER NOT NULL DEFAULT 0)""",
        "CREATE INDEX IF NOT EXISTS review_objects_analysis ON review_objects(analysis_id)",
        """CREATE TABLE IF NOT EXISTS review_matches (
            analysis_id TEXT NOT NULL, before_id TEXT NOT NULL, after_id TEXT NOT NULL, event TEXT,
            distance_m REAL)""",
        """CREATE TABLE IF NOT EXISTS review_decisions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, object_id TEXT NOT NULL, action TEXT NOT NULL,
            old_class TEXT, new_class TEXT, old_wkt TEXT, new_wkt TEXT, reason TEXT, note TEXT,
            reviewer TEXT, time TEXT NOT NULL, target INTEGER)""",
        "CREATE INDEX IF NOT EXISTS review_decisions_object ON review_decisions(object_id)",
    ),
}


class ReviewStoreError(WorkspaceError):
    """The review history cannot be read or written (the message says why and what to do)."""


@dataclass
class ReviewObject:
    """An object as the machine (or an analyst, when `added`) first gave it."""

    object_id: str
    analysis_id: str
    kind: str  # detection | region
    side: str  # before | after ('' for change regions)
    raster_path: str
    crs_wkt: str
    machine_class: str
    score: float
    machine_wkt: str
    machine_event: str = ""
    added: bool = False


@dataclass
class Decision:
    seq: int
    object_id: str
    action: str
    old_class: Optional[str]
    new_class: Optional[str]
    old_wkt: Optional[str]
    new_wkt: Optional[str]
    reason: str
    note: str
    reviewer: str
    time: str
    target: Optional[int] = None  # undo / redo: the decision cancelled or restored


@dataclass
class AnalysisEntry:
    analysis_id: str
    gpkg_path: str
    before_path: str
    after_path: str
    before_date: str
    after_date: str
    max_distance_m: float


def reviewer_name() -> str:
    """The operating-system user name of whoever makes a decision."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 (no user database entry: say so rather than fail)
        return os.environ.get("USERNAME") or os.environ.get("USER") or "unknown"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def _explain(path: str, exc: Exception) -> ReviewStoreError:
    """A message a user understands for a failed open, read or write of the workspace."""
    text = str(exc).lower()
    name = Path(path).name
    if "locked" in text or "busy" in text:
        why = (f"The site workspace {name} is locked by another program that is writing to it. "
               "Your decision was not saved; try again in a moment (close other programs using the file).")
    elif "readonly" in text or "read-only" in text or "permission" in text or "unable to open" in text:
        why = (f"The site workspace {path} cannot be written (read-only file or folder). Your decision was "
               "not saved: copy the site folder somewhere writable and open it from there.")
    elif "not a database" in text or "malformed" in text or "corrupt" in text or "integrity" in text:
        why = (f"The site workspace {path} is damaged (not a valid GeoPackage). Nothing was changed in it; "
               "restore it from a backup or copy.")
    else:
        why = f"The review history in {path} cannot be used: {exc}"
    return ReviewStoreError(why)


class ReviewStore:
    """The review history of one site workspace (workspace.gpkg)."""

    def __init__(self, workspace_path: str):
        self.path = str(workspace_path)
        self._ready = False

    # ------------------------------------------------------------ connections
    @contextmanager
    def _connection(self, write: bool) -> Iterator[sqlite3.Connection]:
        if not Path(self.path).is_file():
            if not write:
                raise ReviewStoreError(f"The site workspace {self.path} does not exist.")
            self._create_empty()
        try:
            uri = f"file:{Path(self.path).resolve().as_posix()}?mode={'rw' if write else 'ro'}"
            con = sqlite3.connect(uri, uri=True, timeout=LOCK_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise _explain(self.path, exc) from exc
        try:
            con.execute(f"PRAGMA busy_timeout = {int(LOCK_TIMEOUT_S * 1000)}")
            con.execute("PRAGMA synchronous = FULL")  # a commit is on disk before decide() returns
            if not self._ready:
                self._check_and_migrate(con, write)
            yield con
        except sqlite3.Error as exc:
            raise _explain(self.path, exc) from exc
        finally:
            con.close()

    @gdal_exceptions()
    def _create_empty(self) -> None:
        from osgeo import ogr

        try:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            ds = ogr.GetDriverByName("GPKG").CreateDataSource(self.path)
        except (OSError, RuntimeError) as exc:
            raise _explain(self.path, exc) from exc
        if ds is None:
            raise ReviewStoreError(f"The site workspace {self.path} cannot be created.")
        ds = None

    def _check_and_migrate(self, con: sqlite3.Connection, write: bool) -> None:
        row = con.execute("PRAGMA quick_check").fetchone()
        if not row or row[0] != "ok":
            raise ReviewStoreError(f"The site workspace {self.path} is damaged ({row[0] if row else 'no answer'}). "
                                   "Nothing was changed in it; restore it from a backup or copy.")
        version = self._schema_version(con)
        if version > SCHEMA_VERSION:
            raise ReviewStoreError(f"The review history in {self.path} was written by a newer SiteWatch "
                                   f"(schema {version}, this one reads up to {SCHEMA_VERSION}): update the plugin.")
        if version < SCHEMA_VERSION:
            if not write:
                return  # a reader of an older (or new) workspace sees no decisions until one is made
            self._migrate(con, version)
        self._ready = True

    @staticmethod
    def _schema_version(con: sqlite3.Connection) -> int:
        exists = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='review_meta'").fetchone()
        if not exists:
            return 0
        row = con.execute("SELECT value FROM review_meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self, con: sqlite3.Connection, version: int) -> None:
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute("CREATE TABLE IF NOT EXISTS review_meta (key TEXT PRIMARY KEY, value TEXT)")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[target]:
                    con.execute(statement)
            con.execute("INSERT OR REPLACE INTO review_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def schema_version(self) -> int:
        with self._connection(write=False) as con:
            return self._schema_version(con)

    def _has_tables(self, con: sqlite3.Connection) -> bool:
        return self._schema_version(con) >= 1

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed on leaving (rolled back on any error)."""
        with self._connection(write=True) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # ------------------------------------------------------------ analyses and objects
    def register(self, entry: AnalysisEntry, objects: list[ReviewObject],
                 matches: list[tuple[str, str, str, Optional[float]]]) -> bool:
        """Record an analysis's machine objects (first history entry of each) and its matched pairs
        (before id, after id, event, distance), in one transaction. False when already registered."""
        time = _now()
        with self._transaction() as con:
            if con.execute("SELECT 1 FROM review_analyses WHERE analysis_id=?", (entry.analysis_id,)).fetchone():
                return False
            con.execute("INSERT INTO review_analyses VALUES (?,?,?,?,?,?,?,?)", (
                entry.analysis_id, entry.gpkg_path, entry.before_path, entry.after_path, entry.before_date,
                entry.after_date, float(entry.max_distance_m), time))
            for obj in objects:
                self._insert_object(con, obj)
                con.execute(
                    "INSERT INTO review_decisions (object_id, action, new_class, new_wkt, reason, note, reviewer, time) "
                    "VALUES (?, 'detected', ?, ?, '', ?, 'machine', ?)",
                    (obj.object_id, obj.machine_class, obj.machine_wkt, f"score {obj.score:.3f}", time))
            con.executemany("INSERT INTO review_matches VALUES (?,?,?,?,?)",
                            [(entry.analysis_id, b, a, e, d) for b, a, e, d in matches])
        return True

    @staticmethod
    def _insert_object(con: sqlite3.Connection, obj: ReviewObject) -> None:
        con.execute("INSERT INTO review_objects VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
            obj.object_id, obj.analysis_id, obj.kind, obj.side, obj.raster_path, obj.crs_wkt, obj.machine_class,
            float(obj.score), obj.machine_wkt, obj.machine_event, int(obj.added)))

    def analyses(self) -> list[AnalysisEntry]:
        """Registered analyses, oldest first."""
        with self._connection(write=False) as con:
            if not self._has_tables(con):
                return []
            rows = con.execute("SELECT analysis_id, gpkg_path, before_path, after_path, before_date, after_date, "
                               "max_distance_m FROM review_analyses ORDER BY registered, rowid").fetchall()
        return [AnalysisEntry(*row) for row in rows]

    def analysis(self, analysis_id: str) -> Optional[AnalysisEntry]:
        return next((a for a in self.analyses() if a.analysis_id == analysis_id), None)

    def objects(self, analysis_id: Optional[str] = None) -> list[ReviewObject]:
        sql = "SELECT * FROM review_objects"
        args: tuple = ()
        if analysis_id is not None:
            sql, args = sql + " WHERE analysis_id=?", (analysis_id,)
        with self._connection(write=False) as con:
            if not self._has_tables(con):
                return []
            rows = con.execute(sql + " ORDER BY rowid", args).fetchall()
        return [ReviewObject(*row[:10], added=bool(row[10])) for row in rows]

    def matches(self, analysis_id: str) -> list[tuple[str, str, str, Optional[float]]]:
        with self._connection(write=False) as con:
            if not self._has_tables(con):
                return []
            return [tuple(r) for r in con.execute(
                "SELECT before_id, after_id, event, distance_m FROM review_matches WHERE analysis_id=? ORDER BY rowid",
                (analysis_id,))]

    # ------------------------------------------------------------ decisions
    def decisions(self, analysis_id: Optional[str] = None, object_id: Optional[str] = None) -> list[Decision]:
        """The history in the order it was written (of one analysis or one object, or all)."""
        sql = ("SELECT d.seq, d.object_id, d.action, d.old_class, d.new_class, d.old_wkt, d.new_wkt, d.reason, "
               "d.note, d.reviewer, d.time, d.target FROM review_decisions d")
        args: tuple = ()
        if object_id is not None:
            sql, args = sql + " WHERE d.object_id=?", (object_id,)
        elif analysis_id is not None:
            sql += " JOIN review_objects o ON o.object_id = d.object_id WHERE o.analysis_id=?"
            args = (analysis_id,)
        with self._connection(write=False) as con:
            if not self._has_tables(con):
                return []
            rows = con.execute(sql + " ORDER BY d.seq", args).fetchall()
        return [Decision(*row[:7], reason=row[7] or "", note=row[8] or "", reviewer=row[9] or "", time=row[10],
                         target=row[11]) for row in rows]

    def history(self, object_id: str) -> list[Decision]:
        return self.decisions(object_id=object_id)

    def append(self, object_id: str, action: str, old_class: Optional[str] = None, new_class: Optional[str] = None,
               old_wkt: Optional[str] = None, new_wkt: Optional[str] = None, reason: str = "", note: str = "",
               target: Optional[int] = None, reviewer: Optional[str] = None) -> Decision:
        """Append one decision, committed before returning."""
        if action not in ACTIONS or action == "detected":
            raise ReviewStoreError(f"Unknown review action '{action}' (use one of {', '.join(REVIEW_ACTIONS)}).")
        who, time = reviewer or reviewer_name(), _now()
        with self._transaction() as con:
            if not con.execute("SELECT 1 FROM review_objects WHERE object_id=?", (object_id,)).fetchone():
                raise ReviewStoreError(f"No object '{object_id}' in the review history of {Path(self.path).name}.")
            cur = con.execute(
                "INSERT INTO review_decisions (object_id, action, old_class, new_class, old_wkt, new_wkt, reason, note, "
                "reviewer, time, target) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (object_id, action, old_class, new_class, old_wkt, new_wkt, reason, note, who, time, target))
            seq = int(cur.lastrowid)
        return Decision(seq, object_id, action, old_class, new_class, old_wkt, new_wkt, reason, note, who, time, target)

    def add_object(self, analysis_id: str, side: str, class_name: str, wkt: str, raster_path: str = "",
                   crs_wkt: str = "", kind: str = KIND_DETECTION, note: str = "",
                   reviewer: Optional[str] = None) -> tuple[ReviewObject, Decision]:
        """An object the machine missed (or one imported), as an 'add' decision; one transaction."""
        obj = ReviewObject(f"{analysis_id}:added:{uuid.uuid4().hex[:12]}", analysis_id, kind, side, raster_path,
                           crs_wkt, "", 1.0, "", "", added=True)
        who, time = reviewer or reviewer_name(), _now()
        with self._transaction() as con:
            self._insert_object(con, obj)
            cur = con.execute(
                "INSERT INTO review_decisions (object_id, action, new_class, new_wkt, reason, note, reviewer, time) "
                "VALUES (?, 'add', ?, ?, '', ?, ?, ?)", (obj.object_id, class_name, wkt, note, who, time))
            seq = int(cur.lastrowid)
        return obj, Decision(seq, obj.object_id, "add", None, class_name, None, wkt, "", note, who, time)

    def add_objects(self, analysis_id: str, items: list[tuple[str, str, str, str, str]], note: str = "",
                    reviewer: Optional[str] = None) -> list[str]:
        """Many added objects (side, class, WKT, raster, CRS) in one transaction; returns their ids."""
        who, time = reviewer or reviewer_name(), _now()
        ids = []
        with self._transaction() as con:
            for side, class_name, wkt, raster_path, crs_wkt in items:
                obj = ReviewObject(f"{analysis_id}:added:{uuid.uuid4().hex[:12]}", analysis_id, KIND_DETECTION, side,
                                   raster_path, crs_wkt, "", 1.0, "", "", added=True)
                self._insert_object(con, obj)
                con.execute(
                    "INSERT INTO review_decisions (object_id, action, new_class, new_wkt, reason, note, reviewer, time) "
                    "VALUES (?, 'add', ?, ?, '', ?, ?, ?)", (obj.object_id, class_name, wkt, note, who, time))
                ids.append(obj.object_id)
        return ids

    def integrity(self) -> str:
        """SQLite's full integrity check of the workspace ('ok' when sound)."""
        with self._connection(write=False) as con:
            return "; ".join(str(r[0]) for r in con.execute("PRAGMA integrity_check").fetchall())
