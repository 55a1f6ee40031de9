"""The timeline counts a reviewed capture from the review history: rejected objects drop out."""
from __future__ import annotations

from review_helpers import registered

from sitewatch.plugin.core.timeline import TimelineParameters, run_timeline
from sitewatch.plugin.store.review_state import derive
from sitewatch.plugin.store.review_timeline import reviewed_detections_source


def test_reviewed_captures_are_counted_from_the_review_history(analysed_site, analysis_copy):
    site, _ = analysed_site
    store, analysis_id, _gpkg = registered(analysis_copy, site)
    assert reviewed_detections_source(store.path) is None  # nothing decided yet: the engine counts
    state = derive(store, analysis_id)
    after = [s for s in state.detections() if s.obj.side == "after"]
    before = [s for s in state.detections() if s.obj.side == "before"]
    store.append(after[0].object_id, "reject", after[0].class_name, after[0].class_name)
    store.append(before[0].object_id, "accept", before[0].class_name, before[0].class_name)
    source = reviewed_detections_source(store.path)
    assert len(source(str(site.after), "")) == len(after) - 1
    assert len(source(str(site.before), "")) == len(before)
    assert source("/elsewhere/other.tif", "") is None
    timeline = run_timeline(TimelineParameters("sample", [str(site.before), str(site.after)], reviewed=source))
    assert [c.reviewed for c in timeline.captures] == [True, True]
    assert [sum(c.counts.values()) for c in timeline.captures] == [len(before), len(after) - 1]
