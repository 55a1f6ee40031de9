"""Change detection quality: pooled pixel precision/recall/F1 of every method on the real
LEVIR-CD sample pairs (one setting for all pairs) and on the generated sample site."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import pkgpath  # noqa: E402,F401

from osgeo import gdal  # noqa: E402

LEVIR = pkgpath.REPO_ROOT.parent / "shared" / "data" / "levir-cd-samples"
LEVIR_PIXEL_M = 0.5
SITE_SIZES = (1024, 2048)  # generated sample site sizes (px) and seed
SITE_SEED = 7


def _counts(mask_path: str, truth: np.ndarray) -> np.ndarray:
    pred = gdal.Open(mask_path).ReadAsArray() == 1
    return np.array([(pred & truth).sum(), (pred & ~truth).sum(), (~pred & truth).sum()], np.int64)


def _prf(c: np.ndarray) -> tuple[float, float, float]:
    tp, fp, fn = (float(v) for v in c)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def eval_levir(methods, work: Path, **overrides) -> dict[str, tuple[float, float, float]]:
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    names = sorted(p.name for p in (LEVIR / "label").glob("*.png"))
    results = {}
    for method in methods:
        counts = np.zeros(3, np.int64)
        for name in names:
            truth = gdal.Open(str(LEVIR / "label" / name)).ReadAsArray() > 127
            params = ChangeParameters(before=str(LEVIR / "A" / name), after=str(LEVIR / "B" / name),
                                      output_dir=str(work / method / Path(name).stem), method=method,
                                      pixel_size_m=LEVIR_PIXEL_M, coregister=False, **overrides)
            result = detect_changes(params)
            counts += _counts(result.mask_path, truth)
        results[method] = _prf(counts)
    return results


def eval_sample_site(methods, work: Path, size_px: int = 1024, seed: int = 7, **overrides):
    try:
        from sitewatch.plugin.samplesite import generate_sample_site
    except ImportError as exc:
        return None, f"plugin.samplesite not importable ({exc})"
    from sitewatch.plugin.core.change import ChangeParameters, detect_changes

    site = generate_sample_site(str(work / f"site{size_px}"), size_px, seed)
    truth = gdal.Open(str(site.change_mask)).ReadAsArray() > 0
    results = {}
    for method in methods:
        scores = []
        # as delivered, then with the site's after-date cloud mask given as an input (an analyst's
        # usual run: cloud pixels are invalid, a real change under the cloud counts as missed)
        for cloud in (None, str(site.cloud_mask)):
            tag = "cloud" if cloud else "plain"
            result = detect_changes(ChangeParameters(before=str(site.before), after=str(site.after),
                                                     output_dir=str(work / f"site{size_px}_{tag}" / method),
                                                     method=method, cloud_mask_after=cloud, **overrides))
            scores.append(_prf(_counts(result.mask_path, truth)))
        results[method] = tuple(scores)
    return results, ""


def main() -> int:
    from sitewatch.plugin.core.change import DEFAULT_METHOD, METHODS

    gdal.UseExceptions()
    with tempfile.TemporaryDirectory(prefix="sitewatch-eval-change-") as tmp:
        work = Path(tmp)
        if (LEVIR / "label").is_dir():
            print(f"LEVIR-CD samples ({LEVIR}): pooled pixel scores, one setting for all pairs")
            print("(pairs are co-registered by the data set; co-registration is off because most 256 px pairs "
                  "change too much to correlate and would rightly fail)")
            print(f"{'method':12s} {'precision':>9s} {'recall':>7s} {'F1':>6s}")
            levir = eval_levir(list(METHODS), work)
            for method, (p, r, f) in levir.items():
                star = " (default)" if method == DEFAULT_METHOD else ""
                print(f"{method:12s} {p:9.3f} {r:7.3f} {f:6.3f}{star}")
            p, r, f = eval_levir([DEFAULT_METHOD], work / "half", half_resolution=True)[DEFAULT_METHOD]
            print(f"{DEFAULT_METHOD + ', half resolution':12s} {p:9.3f} {r:7.3f} {f:6.3f}")
        else:
            print(f"LEVIR-CD samples skipped: {LEVIR} not found")
        for size_px in SITE_SIZES:
            site, why = eval_sample_site(list(METHODS), work, size_px, SITE_SEED)
            if site is None:
                print(f"Sample site skipped: {why}")
                break
            print(f"Sample site (generated, {size_px} px, seed {SITE_SEED}): pixel scores against its change mask")
            print(f"{'':12s} {'without cloud mask':>24s}   {'with its cloud mask':>24s}")
            print(f"{'method':12s} {'precision':>9s} {'recall':>7s} {'F1':>6s}   {'precision':>9s} {'recall':>7s} {'F1':>6s}")
            for method, ((p, r, f), (pc, rc, fc)) in site.items():
                star = " (default)" if method == DEFAULT_METHOD else ""
                print(f"{method:12s} {p:9.3f} {r:7.3f} {f:6.3f}   {pc:9.3f} {rc:7.3f} {fc:6.3f}{star}")
            half, _ = eval_sample_site([DEFAULT_METHOD], work / "half", size_px, SITE_SEED, half_resolution=True)
            (p, r, f), (pc, rc, fc) = half[DEFAULT_METHOD]
            print(f"{DEFAULT_METHOD + ', half res':12s} {p:9.3f} {r:7.3f} {f:6.3f}   {pc:9.3f} {rc:7.3f} {fc:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
