"""Learned engine throughput: a 10000 x 10000 px scene (VRT mosaic of airbus images at 0.5 m).

Uses eval-output/learned_airbus.onnx when present (tools/eval_learned.py writes it), else an
untrained network of the same architecture (the same cost per pixel). Prints MP/s of source
pixels and the scene time, each tile seen four ways (test-time flips, as trained models run);
the target is under 3 minutes on 2 cores.

    .venv/bin/python tools/bench_learned.py [--model PATH] [--size 10000]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
import evalkit as ek  # noqa: E402

from sitewatch.plugin.core.deps import is_available  # noqa: E402

TARGET_S = 180.0


def untrained_model(path: Path) -> Path:
    import torch

    from sitewatch.plugin.core.equipment.learned.export import export_onnx
    from sitewatch.plugin.core.equipment.learned.network import CenterNetLite, DecodedDetector

    torch.manual_seed(0)
    export_onnx(DecodedDetector(CenterNetLite(1)), path, class_names=["aircraft"], gsd_m=1.0, tile_size=640,
                det_conf=0.5, max_object_px=80.0, training_info={"untrained": True}, test_time_flips=True)
    return path


def mosaic(data: Path, out_dir: Path, size: int) -> str:
    from osgeo import gdal

    images = sorted((data / "images").glob("*.jpg"))
    n = -(-size // 2560)
    parts = []
    for k in range(n * n):
        i, j = k % n, k // n
        sub = out_dir / f"tile{k}"
        origin = (ek.AIRBUS_ORIGIN[0] + i * 1280.0, ek.AIRBUS_ORIGIN[1] - j * 1280.0)
        parts.append(ek.georeferenced_vrt(images[k % len(images)], sub, origin=origin))
    full = str(out_dir / "mosaic_full.vrt")
    gdal.BuildVRT(full, parts)
    scene = str(out_dir / "scene.vrt")
    gdal.Translate(scene, full, format="VRT", srcWin=[0, 0, size, size])
    return scene


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="")
    ap.add_argument("--size", type=int, default=10000)
    args, _ = ap.parse_known_args(argv if argv is not None else sys.argv[1:])
    data = ek.airbus_dir()
    if data is None:
        print(f"SKIP: airbus-aircraft data not found at {ek.AIRBUS_DIR}")
        return 0
    if not is_available("onnxruntime") or (not args.model and not is_available("torch")):
        print("SKIP: the learned engine benchmark needs onnxruntime (and torch without --model)")
        return 0
    from sitewatch.plugin.core.equipment.api import DetectionParameters, detect_equipment
    from sitewatch.plugin.core.equipment.onnx_model import model_summary

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = Path(args.model) if args.model else TOOLS.parent / "eval-output" / "learned_airbus.onnx"
        if not model.is_file():
            model = untrained_model(tmp / "untrained.onnx")
        summary = model_summary(model)
        scene = mosaic(data, tmp, args.size)
        t0 = time.perf_counter()
        # with the four mirrored views a model trained by SiteWatch asks for (test_time_flips)
        result = detect_equipment(DetectionParameters(raster=scene, engine="learned", model_path=str(model),
                                                      min_score=0.0, options={"flips": True}))
        seconds = time.perf_counter() - t0
    mp = args.size * args.size / 1e6
    print(f"learned engine, {model.name} ({summary.device}: {', '.join(summary.providers)}), "
          f"model GSD {summary.gsd_m} m, tile {summary.tile_size} px")
    print(f"  {args.size} x {args.size} px scene at 0.5 m ({mp:.0f} MP): {seconds:.1f} s, {mp / seconds:.2f} MP/s, "
          f"{len(result.detections)} detections (target < {TARGET_S:.0f} s)")
    return 0 if seconds < TARGET_S * (args.size / 10000.0) ** 2 else 1


if __name__ == "__main__":
    sys.exit(main())
