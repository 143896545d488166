"""How much faster can ONNX Runtime run a built-in on this CPU? Options we tried.

    python benchmarks/ort_cpu_probe.py [--style wave] [--size 640x360] [--photos ../shared/data/images/val]

- one session, default threads: FPS (what `bench --mode model` reports);
- the same with `session.set_denormal_as_zero`, and with spinning off;
- two single-thread sessions side by side (what `convert`'s two workers get at most);
- a static int8 copy (QDQ, per-channel weights, convolutions only, calibrated on 8 photos):
  FPS and PSNR against fp32 on 8 other photos.
Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def session(model: str, threads: int = 0, **config):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        so.intra_op_num_threads = threads
    for k, v in config.items():
        so.add_session_config_entry(k, v)
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def fps(s, x, n: int = 40) -> float:
    name = s.get_inputs()[0].name
    for _ in range(5):
        s.run(None, {name: x})
    t0 = time.perf_counter()
    for _ in range(n):
        s.run(None, {name: x})
    return n / (time.perf_counter() - t0)


def side_by_side(model: str, x, n: int = 30) -> float:
    sessions = [session(model, threads=1) for _ in range(2)]
    name = sessions[0].get_inputs()[0].name
    for s in sessions:
        s.run(None, {name: x})
    threads = [threading.Thread(target=lambda s=s: [s.run(None, {name: x}) for _ in range(n)]) for s in sessions]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 2 * n / (time.perf_counter() - t0)


def main() -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from realtime_style.io.images import list_images, read_image
    from realtime_style.models import registry

    ap = argparse.ArgumentParser()
    ap.add_argument("--style", default=None)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--photos", type=Path, default=ROOT.parent / "shared" / "data" / "images" / "val")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    model = str(registry.resolve_style(args.style or registry.default_name()))
    photos = [cv2.resize(read_image(p).rgb, (w, h), interpolation=cv2.INTER_AREA) for p in list_images(args.photos)[:16]]
    if len(photos) < 16:
        sys.exit("need 16 photos for calibration and checking (--photos)")
    x = photos[-1][None].copy()
    name = "input"

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter([{name: p[None].copy()} for p in photos[:8]])

        def get_next(self):
            return next(self._it, None)

    with tempfile.TemporaryDirectory() as tmp:
        q8 = str(Path(tmp) / "int8.onnx")
        quantize_static(model, q8, Calibration(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
        fp32, int8 = session(model), session(q8)
        psnr = []
        for p in photos[8:]:
            a = fp32.run(None, {name: p[None]})[0].astype(np.float64)
            b = int8.run(None, {name: p[None]})[0].astype(np.float64)
            psnr.append(round(10 * np.log10(255.0**2 / max(np.mean((a - b) ** 2), 1e-12)), 1))
        report = {
            "model": model, "size": args.size,
            "fps": {
                "default": round(fps(fp32, x), 2),
                "denormal_as_zero": round(fps(session(model, **{"session.set_denormal_as_zero": "1"}), x), 2),
                "no_spinning": round(fps(session(model, **{"session.intra_op.allow_spinning": "0"}), x), 2),
                "two_single_thread_sessions": round(side_by_side(model, x), 2),
                "int8_qdq": round(fps(int8, x), 2),
            },
            "int8_psnr_db_vs_fp32": psnr,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
