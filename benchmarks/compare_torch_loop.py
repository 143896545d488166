"""Our `convert` against the plain per-frame PyTorch loop that the anchors' scripts use,
on the same weights, the same clip, the same size.

    python benchmarks/compare_torch_loop.py --video CLIP [--checkpoint CKPT] [--frames N] [--json [PATH]]

CKPT is anything `realtime-style export` reads (our safetensors checkpoint, an ml5 folder,
a pytorch/examples .pth); default: the wave teacher of ../shared (a Johnson-size network,
what the anchors ship). It is exported to ONNX once (not timed). Then, with the model
already loaded in both:
- ours: `convert` (PyAV decode -> engine workers -> smoothing off -> x264 encode, audio kept);
- theirs: cv2.VideoCapture -> torch tensor -> model (no_grad, eval) -> numpy ->
  cv2.VideoWriter, one frame after another (pytorch/examples' stylize loop applied to video).
Prints JSON with both FPS and the speed-up.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import harness


def torch_loop(module, video: Path, out: Path, frames: int, *, device: str = "cpu", dtype=None,
               channels_last: bool = False, warmup: int = 0) -> tuple[int, float]:
    """The per-frame loop; returns (frames timed, seconds). ``device``/``dtype``/``channels_last``:
    where and how the module runs (it must already be there); the first ``warmup`` frames go
    through the whole loop untimed (cuDNN's first calls)."""
    import cv2
    import torch

    dtype = dtype or torch.float32
    layout = torch.channels_last if channels_last else torch.contiguous_format

    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    done = 0
    start = time.perf_counter()
    with torch.no_grad():
        while not frames or done < frames + warmup:
            if done == warmup:
                start = time.perf_counter()
            ok, bgr = cap.read()
            if not ok:
                break
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            x = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).to(device, dtype, memory_format=layout)
            y = module(x)
            img = y.float().clamp(0, 255).squeeze(0).permute(1, 2, 0).round().byte().cpu().numpy()
            if img.shape[:2] != (h, w):  # networks that need a multiple of 4 return another size
                img = cv2.resize(img, (w, h))
            writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            done += 1
    elapsed = time.perf_counter() - start
    cap.release()
    writer.release()
    return max(0, done - warmup), elapsed


def ours(onnx_path: Path, video: Path, out: Path, frames: int) -> tuple[int, float, int]:
    from realtime_style.engine import InferenceOptions, StyleEngine
    from realtime_style.jobs.convert import convert

    engine = StyleEngine(onnx_path, InferenceOptions(provider="cpu", workers=0))  # as `convert` runs it
    start = time.perf_counter()
    result = convert(video, out, engine, frame_limit=frames, overwrite=True)
    return result.frames, time.perf_counter() - start, engine.workers


def smoke_model():
    """A tiny random Johnson network (smoke runs: the two loops' code, not their speed)."""
    from realtime_style_export.checkpoints import LoadedModel
    from realtime_style_export.networks import build

    return LoadedModel(build("johnson", channels=(4, 8, 8), res_blocks=1).eval(), "johnson", {})


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--video", type=Path, default=None, help="the clip (required)")
    ap.add_argument("--checkpoint", type=Path, default=harness.SHARED / "teachers" / "ml5" / "wave")
    ap.add_argument("--frames", type=int, default=60, help="frames per side (0 = the whole clip)")
    args = harness.parse(ap)
    if args.smoke:  # a 3-frame clip; a tiny random network, and the generated ONNX model for ours
        args.checkpoint = None
        args.video, args.frames = harness.make_clip(harness.inputs(args) / "clip.mp4", 64, 48, 3), 2
    elif args.video is None:
        ap.error("the following arguments are required: --video")

    import torch

    from realtime_style_export.checkpoints import load
    from realtime_style_export.onnx_export import export_model

    loaded = smoke_model() if args.smoke else load(args.checkpoint)
    module = loaded.module.eval()
    with tempfile.TemporaryDirectory(dir=args.smoke) as tmp:
        tmp = Path(tmp)
        onnx_path = tmp / "model.onnx"
        if args.smoke:  # the export (15-25 s of tracing) left out: the generated ONNX model instead
            onnx_path = harness.tiny_model(tmp)
        else:
            export_model(loaded, onnx_path, name="compare")
        n_ours, t_ours, workers = ours(onnx_path, args.video, tmp / "ours.mp4", args.frames)
        n_torch, t_torch = torch_loop(module, args.video, tmp / "torch.mp4", args.frames)
    report = {
        "video": str(args.video), "checkpoint": str(args.checkpoint), "arch": loaded.arch,
        "ours": {"frames": n_ours, "seconds": round(t_ours, 2), "fps": round(n_ours / t_ours, 2),
                 "how": f"realtime-style convert (ONNX Runtime CPU, {workers} workers, x264, smoothing off)"},
        "torch_loop": {"frames": n_torch, "seconds": round(t_torch, 2), "fps": round(n_torch / t_torch, 2),
                       "how": f"OpenCV decode -> torch {torch.__version__} ({torch.get_num_threads()} threads, "
                              "no_grad) -> OpenCV mp4v writer"},
    }
    report["speedup"] = round(report["ours"]["fps"] / report["torch_loop"]["fps"], 2)
    harness.emit(report, args)


if __name__ == "__main__":
    main()
