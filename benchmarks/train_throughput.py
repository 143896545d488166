"""Training throughput of `train` (images per second), on whatever device `train` picks.

    python benchmarks/train_throughput.py --arch johnson --size 256 --batch 4 --steps 20 [--warmup 2]
    torchrun --nproc_per_node N benchmarks/train_throughput.py ...   # several GPUs (images/s of all processes)

Runs the real `train` code path (VGG16 loss, no temporal or adversarial term, no sample
sheets; the checkpoint at the end is outside the timed window) on generated photos with a
random VGG16 in torchvision's format: speed does not depend on the weights. The first
``--warmup`` steps (allocations, kernel selection) are not timed. Prints JSON.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import cv2
import harness
import torch

from realtime_style.testcard import card_image
from realtime_style.training.train import TrainConfig, run
from realtime_style.training.vgg import write_random as write_vgg16


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--arch", default="johnson")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=20, help="all steps, warm-up included")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--precision", default="auto")
    args = harness.parse(ap)
    if args.smoke:
        args.arch, args.size, args.batch, args.steps, args.warmup = "student", 32, 1, 2, 1
    world = int(os.environ.get("WORLD_SIZE", "1"))
    with tempfile.TemporaryDirectory(dir=args.smoke) as tmp:
        tmp = Path(tmp)
        (tmp / "photos").mkdir()
        photo, style = ((48, 64), 64) if args.smoke else ((360, 480), 512)
        for i in range(8):
            cv2.imwrite(str(tmp / "photos" / f"p{i}.png"), card_image(*photo, seed=i)[..., ::-1])
        cv2.imwrite(str(tmp / "style.png"), card_image(style, style, seed=99)[..., ::-1])
        vgg = write_vgg16(tmp / f"vgg-{os.environ.get('RANK', '0')}.pth")
        stamps: dict[int, float] = {}
        config = TrainConfig(style_image=str(tmp / "style.png"), data=str(tmp / "photos"), out=str(tmp / "run"),
                             vgg_weights=str(vgg), arch=args.arch, steps=args.steps, batch=args.batch,
                             size=args.size, checkpoint_every=10**9, sample_every=0, log_every=1,
                             threads=args.threads, device=args.device, precision=args.precision)

        def on_progress(p) -> None:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            stamps[p.step] = time.perf_counter()

        notes: list[str] = []
        run(config, on_progress=on_progress, on_note=notes.append)
    if not stamps:  # not rank 0
        return
    timed = args.steps - args.warmup
    seconds = stamps[args.steps] - stamps[args.warmup]
    device = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else \
        harness.cpu_line()
    harness.emit({
        "arch": args.arch, "size": args.size, "batch_per_process": args.batch, "processes": world,
        "timed_steps": timed, "seconds_per_step": round(seconds / timed, 3),
        "images_per_s": round(timed * args.batch * world / seconds, 2),
        "device": device, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "notes": [n for n in notes if n.startswith("training on")],
    }, args, indent=None)


if __name__ == "__main__":
    main()
