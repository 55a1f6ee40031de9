"""Runs every tools/<prefix>_*.py module's main() in turn (make eval, make bench)."""
from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path

TOOLS = Path(__file__).resolve().parent


def run_suite(prefix: str) -> int:
    sys.path.insert(0, str(TOOLS))
    import pkgpath  # noqa: F401  (the tree imports as `sitewatch`)

    only = sys.argv[1:]  # optional names: make eval ARGS="change"
    failures = 0
    for path in sorted(TOOLS.glob(f"{prefix}_*.py")):
        name = path.stem
        if only and name.split("_", 1)[1] not in only:
            continue
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            rc = importlib.import_module(name).main() or 0
        except Exception:  # report and go on with the next suite
            traceback.print_exc()
            rc = 1
        failures += rc != 0
        print(f"--- {name}: {'ok' if rc == 0 else 'FAILED'} in {time.perf_counter() - started:.1f} s", flush=True)
    return 1 if failures else 0
