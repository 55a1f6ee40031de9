"""Sample-site generator speed: seconds for a 512 and a 4096 px scene (target < 2 s and
< 30 s) and the peak memory of the 4096 run. SITEWATCH_BENCH_SIZE overrides the large size."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
SIZE = int(os.environ.get("SITEWATCH_BENCH_SIZE", "4096"))

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {tools!r})
import pkgpath
from sitewatch.plugin.samplesite import generate_sample_site
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
site = generate_sample_site({out!r}, {size}, 7)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": dt, "peak_mb": peak / 1024, "base_mb": base / 1024,
                  "counts": site.manifest["object_counts"]}}))
"""


def run(size: int, folder: str) -> dict:
    code = CHILD.format(tools=str(TOOLS), out=str(Path(folder) / f"site{size}"), size=size)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory(prefix="sitewatch-bench-site-") as tmp:
        for size, target in ((512, 2.0), (SIZE, 30.0 * (SIZE / 4096) ** 2)):
            r = run(size, tmp)
            good = r["seconds"] < target
            ok &= good
            print(f"{size:6d} px: {r['seconds']:6.1f} s (target < {target:.0f} s, {'ok' if good else 'SLOW'}), "
                  f"peak RSS {r['peak_mb']:.0f} MB (after imports {r['base_mb']:.0f} MB)")
            print(f"          objects {r['counts']}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
