"""Run as its own process by the review GUI test: QGIS (offscreen) with the review panel, reviewed
with the keyboard; prints each object decided and its status, until killed."""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import pkgpath  # noqa: E402,F401


def main(analysis: str, rounds: int) -> int:
    from qgis.core import QgsApplication
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtTest import QTest
    from review_sample import HeadlessIface, open_panel

    app = QgsApplication([], True)
    app.initQgis()
    panel, _group = open_panel(HeadlessIface(), Path(analysis))
    for k in range(rounds):
        object_id = panel.current_id
        if object_id is None:
            break
        QTest.keyClick(panel.ui.queueTable, Qt.Key.Key_A if k % 3 else Qt.Key.Key_R)
        print(object_id, panel.session.state.by_id()[object_id].status, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
