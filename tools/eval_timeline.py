"""make eval ARGS=timeline: the site timeline's counts against the sample series' truth.

A five-date sample series (2048 px, seed 11: not the seed the demo and the tests use; no constant
was tuned on it) is counted by the learned engine trained on the series' own reviewed reference
captures (three, six and nine weeks before date 1 and the same weeks a year earlier;
samplesite/training.py, as `make demo` does), or with `--engine exemplar` by the exemplar engine
from one example box per category drawn on date 1. For every date and every category the count is
compared with the truth (the example categories only with the exemplar engine). Target: every count
within 10 % of the truth. Exits non-zero when it is missed.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pkgpath  # noqa: E402

SIZE, SEED, DATES = 2048, 11, 5
TOLERANCE = 0.10


def main(argv: list[str] | None = None) -> int:
    import argparse

    from sitewatch.plugin.core.timeline import TimelineParameters, run_timeline
    from sitewatch.plugin.samplesite import generate_site_series, load_site_series
    from sitewatch.plugin.samplesite.examples import EXAMPLE_MIN_SCORE, compared_categories, write_example_boxes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", choices=("learned", "exemplar"), default="learned")
    args, _ = ap.parse_known_args(argv if argv is not None else sys.argv[1:])

    root = pkgpath.REPO_ROOT / "build" / f"eval-timeline-{SIZE}-{SEED}"
    try:
        series = load_site_series(root)
    except Exception:
        series = generate_site_series(root, n_dates=DATES, size_px=SIZE, seed=SEED)
    examples = write_example_boxes(series.site, root / "examples.geojson")
    covered = compared_categories({c for capture in series.captures for c in capture.counts}, args.engine)
    rasters = [str(c.raster) for c in series.captures]
    if args.engine == "learned":
        from sitewatch.plugin.core.equipment.onnx_model import model_summary
        from sitewatch.plugin.samplesite.training import train_site_model

        model = train_site_model(root, SIZE, SEED)
        min_score = model_summary(model).det_conf  # chosen in training
        how = (f"learned engine trained on the series' reference captures ({model.name}), score threshold "
               f"{min_score:.3f} chosen on the reference capture kept out of training")
        params = TimelineParameters("eval", rasters, engine="learned", model_path=str(model), min_score=min_score)
    else:
        how = "exemplar engine, one example per category"
        params = TimelineParameters("eval", rasters, engine="exemplar", exemplars_path=str(examples),
                                    exemplars_raster=str(series.site.before), min_score=EXAMPLE_MIN_SCORE)
    timeline = run_timeline(params)
    within = total = 0
    errors = []
    print(f"{'date':<11} " + "  ".join(f"{c[:22]:>22}" for c in covered) + "   (counted/true)")
    for got, want in zip(timeline.captures, series.captures):
        cells = []
        for category in covered:
            n, truth = got.counts.get(category, 0), want.counts.get(category, 0)
            ok = abs(n - truth) <= TOLERANCE * truth
            within += ok
            total += 1
            errors.append(abs(n - truth) / max(truth, 1))
            cells.append(f"{n:>3}/{truth:<3}{'' if ok else ' x':>2}")
        print(f"{got.date:<11} " + "  ".join(f"{c:>22}" for c in cells))
    errors.sort()
    print(f"counts within {TOLERANCE:.0%} of the truth: {within} of {total} date-category pairs; median relative "
          f"error {errors[len(errors) // 2]:.0%} ({how}; {SIZE} px, seed {SEED})")
    if within < total:
        print("target missed: every count within 10 % of the truth")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
