"""The demo's equipment story against the sample site's truth (tools/demo.py --check): each
example category's count on each date within 10 % of the truth, arrival/departure F1 >= 0.80.

    .venv/bin/python tools/eval_demo.py
"""
from __future__ import annotations

import sys

from demo import ROOT
from demo import main as demo_main


def main(argv: list[str] | None = None) -> int:
    # its own folder: an analysis replaces its folder, and demo-output/ keeps the demo's report
    return demo_main(["--check", "--no-render", "--out", str(ROOT / "eval-output" / "demo")])


if __name__ == "__main__":
    sys.exit(main())
