"""The review panel on a copy of the sample analysis, for the review GUI tests."""
from __future__ import annotations

import shutil
from pathlib import Path

from review_sample import analysis_record, open_panel  # noqa: F401 (used by the review GUI tests)


def copy_sample(sample_root: Path, target: Path) -> Path:
    """A private copy of the sample folder (site, analyses); returns the copied analysis folder."""
    from review_sample import ANALYSIS_ID

    shutil.copytree(sample_root, target)
    return target / "analyses" / ANALYSIS_ID
