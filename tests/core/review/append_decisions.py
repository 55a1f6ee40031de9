"""Run as a separate process by the durability tests: appends decisions to a workspace and prints
each committed sequence number (or the error message), so a test can kill it at any moment."""
from __future__ import annotations

import os
import sys
from pathlib import Path

if os.environ.get("SITEWATCH_PKG_DIR"):  # a copy of the package for a user who may not read the tree
    sys.path.insert(0, os.environ["SITEWATCH_PKG_DIR"])
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
    import pkgpath  # noqa: F401

from sitewatch.plugin.store.review import ReviewStore, ReviewStoreError  # noqa: E402


def main(workspace: str, analysis_id: str, rounds: int) -> int:
    store = ReviewStore(workspace)
    ids = [o.object_id for o in store.objects(analysis_id)]
    try:
        for k in range(rounds):
            object_id = ids[k % len(ids)]
            action = ("accept", "reject", "relabel")[k % 3]
            decision = store.append(object_id, action, "truck", "car" if action == "relabel" else "truck",
                                    note=f"round {k}")
            print(decision.seq, flush=True)
    except ReviewStoreError as exc:
        print(f"ERROR {exc}", flush=True)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
