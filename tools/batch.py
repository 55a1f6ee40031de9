"""Run the batch command from the source tree: .venv/bin/python tools/batch.py sites.geojson [options]."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pkgpath  # noqa: E402,F401

from sitewatch.plugin.batch.__main__ import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
