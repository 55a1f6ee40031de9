"""A finished analysis as a record of its site's history (QGIS-free: the panel and
sitewatch:analyzesite record runs the same way)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from .workspace import AnalysisRecord, SiteWorkspace, new_analysis_id


def analysis_record(result, threshold: Optional[float] = None) -> AnalysisRecord:
    """The history record of a core AnalysisResult; `threshold`: the change-score display
    threshold when the run has none (no change step)."""
    params = result.params
    run_threshold = getattr(result.change, "threshold", None)
    return AnalysisRecord(
        id=Path(result.output_dir).name or new_analysis_id(),
        time=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        title=result.title,
        before_path=params.before_path,
        after_path=params.after_path,
        before_date=params.before_date,
        after_date=params.after_date,
        gpkg_path=result.gpkg_path,
        score_path=result.score_path or "",
        summary=list(result.summary_lines),
        threshold=float(run_threshold if run_threshold is not None else
                        (threshold if threshold is not None else params.change.sensitivity)),
    )


def record_analysis(workspace_path: str, result, threshold: Optional[float] = None) -> AnalysisRecord:
    """Add a finished analysis to the history of the site workspace at workspace_path."""
    record = analysis_record(result, threshold)
    SiteWorkspace(workspace_path).add_analysis(record)
    from .review_analysis import carry_over_to_new_analysis

    carry_over_to_new_analysis(workspace_path, record)  # a re-run keeps the site's review decisions
    return record
