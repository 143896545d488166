"""The GPU proof (issue 20): every GPU path of the product measured side by side in one run of
at most 9 minutes, through the product's own jobs (`bench`, `convert`, `live`).

    bash benchmarks/gpu_proof.sh                    # on the lent GPU machine: installs the ORT GPU wheel, then this
    python benchmarks/gpu_proof.py [--out DIR] [--deadline S] [--only STEP,...]
    python benchmarks/gpu_proof.py --dry-run [--out DIR]   # CPU, tiny sizes: every step's code path, seconds

Steps, in this order (the goals' figures first, TensorRT's engine builds last); each is skipped
with its reason once the global deadline leaves it too little time, and a failure inside one is
recorded (what failed, the first line of its error) while the run goes on:
- environment: machine facts, ONNX Runtime's build and providers, NVENC's verdict, torch;
- networks: the default built-in, and a teacher-size network (pytorch/examples' Johnson
  TransformerNet with random weights, built as ONNX without torch; the PyTorch loop loads the
  same weights);
- bench_cuda, bench_cuda_off, bench_tensorrt, bench_tensorrt_off: the `bench` job, model-only
  and pipeline, both networks x 640x360/1280x720/1920x1080 x fp32/fp16, with per-size
  sessions (CUDA graphs / exact TensorRT profiles) and, model-only, without (`_off`);
- convert: the `convert` job on a generated 1080p clip, NVENC and libx264, without smoothing
  (against model-only on the same provider, measured beside it) and with the default smoothing;
- live: the `live` job, `--source synthetic --headless`, smoothing on;
- torch_loop: the same teacher network in a per-frame PyTorch loop on the GPU (fp32, and fp16
  channels-last), against our `convert` of the same clip;
- then gates (what the fp16 / TensorRT / per-size checks measured) and goals (with ratios).

Output: DIR/gpu_proof.json (rewritten after every result, so a run cut short still leaves
one) and DIR/gpu_proof.log; DIR is --out, else $OUT, else ./gpu_proof_out. `--smoke DIR`
(the benchmark smoke test) is `--dry-run --out DIR`, with the JSON also at DIR/result.json.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import harness

SCHEMA = "gpu_proof/1"
DEADLINE_S = 480.0  # the whole call (install included, from --started) ends well inside 9 minutes
HARD_GRACE_S = 25.0  # a step still running this long after the deadline is cut off
GOALS = {"teacher_1080p_fp16_model_fps": 150.0, "builtin_1080p_model_fps": 400.0,
         "convert_over_model_only": 0.9, "convert_over_torch_loop": 3.0}


class Plan:
    """What one run measures: the GPU plan, or the dry run's tiny stand-in on the CPU."""

    def __init__(self, dry: bool) -> None:
        self.dry = dry
        if dry:
            self.sizes = [(64, 48), (96, 64)]
            self.clip = (96, 64, 12)  # width, height, frames
            self.providers = {"cuda": "cpu", "tensorrt": "tensorrt"}  # TensorRT: its failure to load, recorded
            self.precisions = ["fp32"]
            self.engine = ("cpu", "fp32")  # convert / live
            self.codecs = ["libx264"]
            self.bench = dict(frames=4, warmup=1, rounds=2)
            self.live = [("builtin", (64, 48), 30.0, 6)]
            self.torch = [("fp32", False, False), ("fp32_channels_last", False, True)]
            self.torch_frames, self.torch_warmup, self.torch_model_runs = 2, 1, 2
            self.teacher = dict(channels=(32, 64, 128), res_blocks=5)
        else:
            self.sizes = [(640, 360), (1280, 720), (1920, 1080)]
            self.clip = (1920, 1080, 240)
            self.providers = {"cuda": "cuda", "tensorrt": "tensorrt"}
            self.precisions = ["fp32", "fp16"]
            self.engine = ("auto", "auto")
            self.codecs = ["h264_nvenc", "libx264"]
            self.bench = dict(frames=150, warmup=15, rounds=5)
            self.live = [("builtin", (1280, 720), 30.0, 150), ("builtin", (1920, 1080), 240.0, 480),
                         ("teacher", (1920, 1080), 240.0, 480)]
            self.torch = [("fp32", False, False), ("fp16_channels_last", True, True)]
            self.torch_frames, self.torch_warmup, self.torch_model_runs = 120, 10, 20
            self.teacher = dict(channels=(32, 64, 128), res_blocks=5)
        # per step: the least time it needs to start (seconds); 0: always runs
        scale = 0.02 if dry else 1.0
        self.need = {"environment": 0, "networks": 0, "bench_cuda": 60 * scale, "convert": 45 * scale,
                     "live": 20 * scale, "torch_loop": 30 * scale, "bench_cuda_off": 25 * scale,
                     "bench_tensorrt": 60 * scale, "bench_tensorrt_off": 40 * scale}

    def to_json(self) -> dict:
        return {"sizes": [f"{w}x{h}" for w, h in self.sizes], "clip": "{}x{}, {} frames".format(*self.clip),
                "providers": self.providers, "precisions": self.precisions,
                "convert_and_live_engine": dict(zip(("provider", "precision"), self.engine)),
                "codecs": self.codecs, "bench": self.bench,
                "live": [f"{s} {w}x{h} at {fps:g} fps, {n} frames" for s, (w, h), fps, n in self.live],
                "torch_loop": [name for name, _, _ in self.torch], "teacher": self.teacher}


class Proof:
    """The run's state: the report (written after every result), the log, the deadline."""

    def __init__(self, out: Path, plan: Plan, deadline_s: float, started: float, extra_json: str | None) -> None:
        self.out, self.plan, self.started, self.deadline_s = out, plan, started, deadline_s
        self.extra_json = extra_json
        out.mkdir(parents=True, exist_ok=True)
        self._log = open(out / "gpu_proof.log", "a", encoding="utf-8")
        self._lock = threading.RLock()
        self.current: str | None = None
        self.report = {"schema": SCHEMA, "date": datetime.date.today().isoformat(),
                       "mode": "dry-run" if plan.dry else "gpu", "deadline_s": deadline_s,
                       "finished": False, "plan": plan.to_json(), "sections": {}, "gates": {}, "goals": {}}

    # -- time --------------------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.time() - self.started

    def left(self) -> float:
        return self.deadline_s - self.elapsed()

    # -- output ------------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        line = f"[{self.elapsed():6.1f} s] {message}"
        with self._lock:
            print(line, flush=True)
            self._log.write(line + "\n")
            self._log.flush()

    def save(self) -> None:
        with self._lock:
            self.report["wall_s"] = round(self.elapsed(), 1)
            harness.write_json(self.out / "gpu_proof.json", self.report)
            if self.extra_json:
                harness.write_json(self.extra_json, self.report)

    def section(self, name: str) -> dict:
        return self.report["sections"].setdefault(name, {"status": "running", "errors": []})

    def failed(self, section: dict, what: str, exc: BaseException) -> None:
        """One failure inside a section: recorded, logged, and the run goes on."""
        from realtime_style.engine.session import first_line

        error = first_line(exc) if isinstance(exc, Exception) else type(exc).__name__
        section["errors"].append({"what": what, "error": f"{type(exc).__name__}: {error}"})
        self.log(f"FAILED {what}: {type(exc).__name__}: {error}")
        self.save()

    def step(self, name: str, func) -> None:
        section = self.section(name)
        need = self.plan.need.get(name, 0)
        if need and self.left() < need:
            section.update(status="skipped", reason=f"skipped: {max(0, self.left()):.0f} s left of the "
                                                    f"{self.deadline_s:.0f} s deadline, it needs about {need:.0f} s")
            self.log(f"{name}: {section['reason']}")
            self.save()
            return
        self.current = name
        t0 = time.time()
        self.log(f"== {name} ({self.left():.0f} s left)")
        try:
            func(section)
        except Exception as exc:  # noqa: BLE001 - one step's failure is a result; the others still run
            self.failed(section, name, exc)
        section["seconds"] = round(time.time() - t0, 1)
        if section["status"] == "running":
            section["status"] = "failed" if section["errors"] and not section.get("ran") else (
                "partial" if section["errors"] else "ok")
        self.current = None
        self.save()

    def cut_off(self) -> None:
        """The hard limit: the step in flight is marked, the report written, the process ends."""
        with self._lock:
            if self.current:
                self.section(self.current).update(status="cut off", reason=f"still running {HARD_GRACE_S:.0f} s "
                                                  f"after the {self.deadline_s:.0f} s deadline")
            self.report["cut_off"] = True
            self.log("cut off at the hard limit; the report holds what was measured")
            self.save()
        os._exit(3)


# -- environment and networks ----------------------------------------------------------------------
def environment(proof: Proof, section: dict) -> None:
    import onnxruntime as ort

    from realtime_style.engine.provider_probe import probe_providers
    from realtime_style.io.codecs import nvenc_usable
    from realtime_style.machine import machine_info

    section["machine"] = machine_info()
    section["onnxruntime"] = {"version": ort.__version__, "path": str(Path(ort.__file__).parent),
                              "compiled_in": ort.get_available_providers()}
    section["install"] = os.environ.get("GPU_PROOF_INSTALL", "not by gpu_proof.sh")
    section["providers"] = [p.to_json() for p in probe_providers(20.0)]
    ok, why = nvenc_usable()
    section["nvenc"] = {"usable": ok, "reason": why}
    torch = sys.modules.get("torch")
    section["torch"] = ({"version": torch.__version__, "cuda": torch.cuda.is_available(),
                         "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
                        if torch else "not imported (dry run: imported lazily by torch_loop)")
    section["ran"] = True
    proof.log(f"gpu {section['machine'].get('gpu')}, onnxruntime {ort.__version__} "
              f"{[p['name'] for p in section['providers'] if p['loads']]} load; NVENC: {why}")


def networks(proof: Proof, section: dict, work: Path) -> dict:
    from realtime_style.models import registry
    from realtime_style.models.synthetic import johnson_state, make_johnson_model

    builtin = registry.default_name()
    t0 = time.time()
    state = johnson_state(**proof.plan.teacher, seed=0)
    teacher = work / "teacher_johnson.onnx"
    teacher.write_bytes(make_johnson_model(state, name="teacher-johnson"))
    section.update(builtin={"name": builtin, "path": str(registry.resolve_style(builtin))},
                   teacher={"path": str(teacher), "arch": "johnson", **proof.plan.teacher,
                            "parameters": int(sum(v.size for v in state.values())),
                            "bytes": teacher.stat().st_size, "built_s": round(time.time() - t0, 2),
                            "how": "realtime_style.models.synthetic.make_johnson_model (onnx.helper, no torch)"},
                   ran=True)
    return {"builtin": builtin, "teacher": str(teacher), "state": state}


# -- bench ----------------------------------------------------------------------------------------------
def bench_step(proof: Proof, section: dict, nets: dict, provider: str, per_size: bool) -> None:
    from realtime_style.jobs import bench
    from realtime_style.models import registry

    plan = proof.plan
    results = proof.report.setdefault("bench_results", [])
    modes = ["model", "pipeline"] if per_size else ["model"]
    runs = section.setdefault("runs", [])
    for style_key in ("teacher", "builtin"):
        for precision in reversed(plan.precisions):  # fp16 first: the goals' figures
            label = f"{style_key} {provider} {precision} per-size {'on' if per_size else 'off'}"
            need = proof.plan.need["bench_cuda_off" if not per_size else "bench_cuda"] / 4
            if proof.left() < need:
                runs.append({"run": label, "status": "skipped",
                             "reason": f"skipped: {max(0, proof.left()):.0f} s left, it needs about {need:.0f} s"})
                proof.log(f"{label}: {runs[-1]['reason']}")
                continue
            t0 = time.time()
            bplan = bench.BenchPlan(styles=[nets[style_key]], sizes=plan.sizes, providers=[provider],
                                    precisions=[precision], modes=modes, per_size=per_size, **plan.bench)

            def on_result(entry: dict, style_key=style_key, precision=precision, label=label) -> None:
                entry.update(network=style_key, precision_requested=precision, run=label)
                results.append(entry)
                proof.log(bench.describe(entry) + (f"  notes: {entry['notes']}" if entry.get("notes") else ""))
                proof.save()

            try:
                bench.run(bplan, registry.resolve_style, on_result=on_result, cache_dir=registry.home() / "trt_cache")
            except Exception as exc:  # noqa: BLE001
                proof.failed(section, label, exc)
            mine = [r for r in results if r["run"] == label]
            errors = sorted({r["error"] for r in mine if r.get("error")})
            runs.append({"run": label, "status": "failed" if errors else "ok", "seconds": round(time.time() - t0, 1),
                         **({"errors": errors} if errors else {})})
            if errors:
                section["errors"].append({"what": label, "error": errors[0]})
            else:
                section["ran"] = True
    section["ran"] = section.get("ran") or any(r["status"] == "ok" for r in runs)


# -- convert ---------------------------------------------------------------------------------------------
def steady_fps(stamps: list[float]) -> float | None:
    """Frames per second after the first frames (a per-size session is made, and a TensorRT
    engine built, on the first one)."""
    skip = min(10, len(stamps) // 4)
    if len(stamps) - skip < 2:
        return None
    return (len(stamps) - 1 - skip) / (stamps[-1] - stamps[skip])


def run_convert(proof: Proof, clip: Path, out: Path, style: str, codec: str, smooth: float) -> dict:
    from realtime_style.engine import InferenceOptions
    from realtime_style.engine.factory import EngineSpec
    from realtime_style.jobs import convert as job

    provider, precision = proof.plan.engine
    notes: list[str] = []
    stamps: list[float] = []
    options = job.ConvertOptions(str(clip), str(out), EngineSpec(style, InferenceOptions(provider=provider,
                                                                                         precision=precision)),
                                 codec=codec, audio=False, overwrite=True, smooth=smooth)
    t0 = time.perf_counter()
    result = job.run(options, on_note=notes.append, on_frame=lambda _f: stamps.append(time.perf_counter()))
    total = time.perf_counter() - t0
    steady = steady_fps(stamps)
    return {"frames": result.frames, "provider": result.provider, "codec": codec, "smooth": smooth,
            "fps_wall": round(result.frames / result.stats.wall_s, 2),
            "fps_steady": round(steady, 2) if steady else None,
            "seconds_with_engine_start": round(total, 2),
            "stages_ms_per_frame": {s.name: round(s.ms_per_frame, 2) for s in result.stats.stages}, "notes": notes}


def model_only_beside(proof: Proof, style: str, provider: str, width: int, height: int) -> dict:
    """Model-only speed for the engine convert ran on (the `bench` job, the same options)."""
    from realtime_style.jobs import bench
    from realtime_style.models import registry

    precision = proof.plan.engine[1]
    plan = bench.BenchPlan(styles=[style], sizes=[(width, height)], providers=[provider],
                           precisions=[precision], modes=["model"], **proof.plan.bench)
    (entry,) = bench.run(plan, registry.resolve_style, cache_dir=registry.home() / "trt_cache")
    if entry.get("error"):
        raise RuntimeError(entry["error"])
    return {k: entry.get(k) for k in ("fps", "latency_ms", "precision", "providers_active", "per_size_session")}


def convert_step(proof: Proof, section: dict, nets: dict, work: Path) -> None:
    width, height, frames = proof.plan.clip
    t0 = time.time()
    clip = harness.make_clip(work / "clip.mp4", width, height, frames, preset="ultrafast")
    section["clip"] = {"size": f"{width}x{height}", "frames": frames, "generated_s": round(time.time() - t0, 1)}
    env = proof.report["sections"].get("environment", {})
    nvenc = env.get("nvenc", {"usable": False, "reason": "not checked"})
    runs = section.setdefault("runs", [])
    cases = [(s, c, 0.0) for s in ("teacher", "builtin") for c in proof.plan.codecs]
    cases += [(s, "auto", 0.8) for s in ("builtin", "teacher")]  # as a user runs it: auto codec, smoothing on
    for style_key, codec, smooth in cases:
        label = f"{style_key} {codec} smooth {smooth:g}"
        if codec == "h264_nvenc" and not nvenc.get("usable"):
            runs.append({"run": label, "status": "skipped", "reason": f"NVENC not usable: {nvenc.get('reason')}"})
            continue
        if proof.left() < proof.plan.need["convert"] / 4:
            runs.append({"run": label, "status": "skipped", "reason": f"skipped: {max(0, proof.left()):.0f} s left"})
            continue
        try:
            row = {"run": label, "network": style_key, **run_convert(proof, clip, work / "out.mp4", nets[style_key],
                                                                     codec, smooth)}
            if smooth == 0:
                ref = model_only_beside(proof, nets[style_key], row["provider"], width, height)
                row["model_only"] = ref
                best = row["fps_steady"] or row["fps_wall"]
                row["ratio_to_model_only"] = round(best / ref["fps"], 3) if ref["fps"] else None
            row["status"] = "ok"
            runs.append(row)
            section["ran"] = True
            proof.log(f"convert {label}: {row['fps_wall']} fps wall, {row['fps_steady']} steady "
                      f"[{row['provider']}]" + (f", model-only {row['model_only']['fps']}" if smooth == 0 else ""))
        except Exception as exc:  # noqa: BLE001
            runs.append({"run": label, "status": "failed"})
            proof.failed(section, f"convert {label}", exc)
        proof.save()
    section["clip_path"] = str(clip)


# -- live ----------------------------------------------------------------------------------------------------
def live_step(proof: Proof, section: dict, nets: dict) -> None:
    from realtime_style.engine import InferenceOptions
    from realtime_style.engine.factory import EngineSpec
    from realtime_style.jobs import live

    provider, precision = proof.plan.engine
    runs = section.setdefault("runs", [])
    for style_key, size, fps, frames in proof.plan.live:
        label = f"{style_key} {size[0]}x{size[1]} at {fps:g} fps"
        if proof.left() < proof.plan.need["live"] / 3:
            runs.append({"run": label, "status": "skipped", "reason": f"skipped: {max(0, proof.left()):.0f} s left"})
            continue
        try:
            config = live.LiveConfig(source="synthetic", size=size, fps=fps, headless=True, max_frames=frames,
                                     smooth=0.8, engine=EngineSpec(nets[style_key], InferenceOptions(
                                         provider=provider, precision=precision)))
            stats = live.run(config, on_note=proof.log).stats
            runs.append({"run": label, "network": style_key, "status": "ok", **stats})
            section["ran"] = True
            proof.log(f"live {label}: {stats['fps']} fps shown, model {stats['model_fps']} fps, "
                      f"latency p50 {stats['latency_ms']['p50']} p95 {stats['latency_ms']['p95']} ms")
        except Exception as exc:  # noqa: BLE001
            runs.append({"run": label, "status": "failed"})
            proof.failed(section, f"live {label}", exc)
        proof.save()


# -- the per-frame PyTorch loop ------------------------------------------------------------------------------
def torch_step(proof: Proof, section: dict, nets: dict, work: Path) -> None:
    import compare_torch_loop
    import torch  # here only: the product never imports torch

    from realtime_style.engine.session import cpu_session, run
    from realtime_style.metrics import psnr
    from realtime_style.testcard import card_image
    from realtime_style_export.networks import build

    device = "cpu" if proof.plan.dry else "cuda"
    clip = Path(proof.report["sections"].get("convert", {}).get("clip_path", ""))
    if not clip.is_file():
        width, height, frames = proof.plan.clip
        clip = harness.make_clip(work / "clip.mp4", width, height, frames, preset="ultrafast")
    net = build("johnson", **proof.plan.teacher)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in nets["state"].items()})
    net.eval()
    # the same network: torch fp32 on the CPU against the generated ONNX graph on a test card
    card = card_image(64, 96)
    with torch.no_grad():
        ref = net(torch.from_numpy(card).permute(2, 0, 1)[None].float()).clamp(0, 255).round().byte()
    db = psnr(run(cpu_session(Path(nets["teacher"]).read_bytes()), card[None])[0], ref[0].permute(1, 2, 0).numpy())
    section["onnx_vs_torch_db"] = round(db, 2) if db != float("inf") else "identical"
    section.update(device=device, torch=torch.__version__, loops=[])
    net = net.to(device)
    for name, half, channels_last in proof.plan.torch:
        if proof.left() < proof.plan.need["torch_loop"] / 3:
            section["loops"].append({"loop": name, "status": "skipped",
                                     "reason": f"skipped: {max(0, proof.left()):.0f} s left"})
            continue
        try:
            dtype = torch.float16 if half else torch.float32
            layout = torch.channels_last if channels_last else torch.contiguous_format
            module = net.to(dtype=dtype, memory_format=layout)
            if device == "cuda":
                torch.backends.cudnn.benchmark = True
            done, seconds = compare_torch_loop.torch_loop(module, clip, work / f"torch_{name}.mp4",
                                                          proof.plan.torch_frames, device=device, dtype=dtype,
                                                          channels_last=channels_last, warmup=proof.plan.torch_warmup)
            row = {"loop": name, "status": "ok", "frames": done, "seconds": round(seconds, 2),
                   "fps": round(done / seconds, 2) if seconds else None,
                   "how": f"OpenCV decode -> torch {torch.__version__} on {device} ({name}, no_grad) -> "
                          "OpenCV mp4v writer, one frame after another"}
            row["model_only_fps"] = torch_model_fps(module, clip, device, dtype, channels_last,
                                                    proof.plan.torch_model_runs)
            section["loops"].append(row)
            section["ran"] = True
            proof.log(f"torch loop {name}: {row['fps']} fps end to end, model only {row['model_only_fps']}")
        except Exception as exc:  # noqa: BLE001
            section["loops"].append({"loop": name, "status": "failed"})
            proof.failed(section, f"torch loop {name}", exc)
        proof.save()


def torch_model_fps(module, clip: Path, device: str, dtype, channels_last: bool, runs: int = 20) -> float:
    """The module alone on one frame of the clip's size, synchronised (no decode or encode)."""
    import cv2
    import torch

    cap = cv2.VideoCapture(str(clip))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    cap.release()
    x = torch.zeros((1, 3, h, w), device=device, dtype=dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    times = []
    with torch.no_grad():
        for i in range(runs + 1):
            sync()
            t0 = time.perf_counter()
            module(x)
            sync()
            if i >= 1:
                times.append(time.perf_counter() - t0)
    return round(1.0 / statistics.median(times), 2)


# -- gates and goals -------------------------------------------------------------------------------------------
def gates(proof: Proof) -> dict:
    """What each engine's checks measured (bench's gates_db), and the notes of those that fell back."""
    out = {}
    for r in proof.report.get("bench_results", []):
        if r.get("error") or r["mode"] != "model":
            continue
        key = f"{r['network']} {r['provider_requested']} {r['precision_requested']}"
        row = out.setdefault(key, {"precision_used": r["precision"], "gates_db": {}, "notes": []})
        row["gates_db"].update(r.get("gates_db", {}))
        row["notes"] = sorted(set(row["notes"]) | {n for n in r.get("notes", []) if "dB" in n})
    for row in out.values():
        if not row["gates_db"]:
            row["reason"] = "no check ran: gates run on GPU providers only (fp16, TensorRT fp16, per-size)"
    return out or {"reason": "no model-only bench result"}


def goals(proof: Proof) -> dict:
    results = [r for r in proof.report.get("bench_results", []) if not r.get("error") and r["mode"] == "model"]
    width, height = proof.plan.sizes[-1]
    size = f"{width}x{height}"

    def best(network: str, precision: str | None = None) -> dict | None:
        rows = [r for r in results if r["network"] == network and r["size"] == size
                and (precision is None or r["precision"] == precision)]
        return max(rows, key=lambda r: r["fps"], default=None)

    def goal(row: dict | None, value_key: str, name: str, why_missing: str) -> dict:
        if row is None:
            return {"goal": f">= {GOALS[name]:g}", "met": None, "reason": why_missing}
        where = {k: row[k] for k in ("provider_requested", "precision", "per_size_enabled", "size") if k in row}
        return {**harness.target(row[value_key], GOALS[name]), "from": where}

    fp16 = "fp32" if proof.plan.dry else "fp16"  # the dry run has no fp16: the code path on fp32
    out = {
        "teacher_1080p_fp16_model_fps": goal(best("teacher", fp16), "fps", "teacher_1080p_fp16_model_fps",
                                             f"no teacher model-only result at {size} in {fp16}"),
        "builtin_1080p_model_fps": goal(best("builtin"), "fps", "builtin_1080p_model_fps",
                                        f"no built-in model-only result at {size}"),
    }
    converts = [r for r in proof.report["sections"].get("convert", {}).get("runs", [])
                if r.get("status") == "ok" and r.get("ratio_to_model_only") is not None]
    out["convert_over_model_only"] = {
        r["run"]: {**harness.target(r["ratio_to_model_only"], GOALS["convert_over_model_only"]),
                   "convert_fps": r["fps_steady"] or r["fps_wall"], "model_only_fps": r["model_only"]["fps"]}
        for r in converts} or {"met": None, "reason": "no convert run with its model-only figure"}
    loops = [r for r in proof.report["sections"].get("torch_loop", {}).get("loops", []) if r.get("status") == "ok"]
    ours = [r for r in converts if r["network"] == "teacher"]
    if loops and ours:
        mine = max(ours, key=lambda r: r["fps_steady"] or r["fps_wall"])
        fps = mine["fps_steady"] or mine["fps_wall"]
        fastest = max(loops, key=lambda r: r["fps"])
        out["convert_over_torch_loop"] = {
            **harness.target(fps / fastest["fps"], GOALS["convert_over_torch_loop"]),
            "ours": {"run": mine["run"], "fps": fps, "provider": mine["provider"]},
            "torch_loop": {"loop": fastest["loop"], "fps": fastest["fps"]},
            "every_loop": {r["loop"]: round(fps / r["fps"], 3) for r in loops}}
    else:
        out["convert_over_torch_loop"] = {"goal": ">= 3", "met": None,
                                          "reason": "needs a teacher convert run and a torch loop that ran"}
    return out


# -- main ---------------------------------------------------------------------------------------------------------
STEPS = ("environment", "networks", "bench_cuda", "convert", "live", "torch_loop", "bench_cuda_off",
         "bench_tensorrt", "bench_tensorrt_off")


def main() -> None:
    ap = harness.parser(__doc__)
    ap.add_argument("--dry-run", action="store_true", help="CPU provider, tiny sizes and frame counts")
    ap.add_argument("--out", type=Path, default=None, help="where the JSON and the log go (default: $OUT)")
    ap.add_argument("--deadline", type=float, default=DEADLINE_S, help="seconds from --started for everything")
    ap.add_argument("--started", type=float, default=None, help="when the call began (epoch s; gpu_proof.sh)")
    ap.add_argument("--only", default="", help=f"comma-separated steps to run (of {', '.join(STEPS)})")
    ap.add_argument("--preload-torch", action="store_true",
                    help="import torch first (its CUDA and cuDNN libraries, which the ORT GPU wheel needs)")
    args = harness.parse(ap)
    if args.preload_torch:
        import torch  # noqa: F401 - loads the CUDA libraries before onnxruntime does
    dry = args.dry_run or args.smoke is not None
    out = args.smoke or args.out or Path(os.environ.get("OUT") or "gpu_proof_out")
    plan = Plan(dry)
    proof = Proof(Path(out).resolve(), plan, args.deadline, args.started or time.time(), args.json or None)
    only = {s for s in args.only.split(",") if s} or set(STEPS)
    unknown = only - set(STEPS)
    if unknown:
        ap.error(f"--only: unknown steps {', '.join(sorted(unknown))}")
    watchdog = threading.Timer(max(1.0, args.deadline + HARD_GRACE_S - proof.elapsed()), proof.cut_off)
    watchdog.daemon = True
    watchdog.start()
    work = Path(tempfile.mkdtemp(prefix="gpu_proof_", dir=harness.inputs(args) if args.smoke else None))
    os.environ.setdefault("REALTIME_STYLE_HOME", str(work / "home"))  # TensorRT engines; no platformdirs
    proof.log(f"gpu proof ({proof.report['mode']}), deadline {args.deadline:.0f} s, work {work}, out {proof.out}")
    nets: dict = {}
    steps = {
        "environment": lambda s: environment(proof, s),
        "networks": lambda s: nets.update(networks(proof, s, work)),
        "bench_cuda": lambda s: bench_step(proof, s, nets, plan.providers["cuda"], True),
        "convert": lambda s: convert_step(proof, s, nets, work),
        "live": lambda s: live_step(proof, s, nets),
        "torch_loop": lambda s: torch_step(proof, s, nets, work),
        "bench_cuda_off": lambda s: bench_step(proof, s, nets, plan.providers["cuda"], False),
        "bench_tensorrt": lambda s: bench_step(proof, s, nets, plan.providers["tensorrt"], True),
        "bench_tensorrt_off": lambda s: bench_step(proof, s, nets, plan.providers["tensorrt"], False),
    }
    for name in STEPS:
        if name in ("environment", "networks") or name in only:  # the others need these
            proof.step(name, steps[name])
        else:
            proof.section(name).update(status="skipped", reason="not in --only")
        if name == "networks" and not nets:
            break
    for name in STEPS:  # a step never reached (networks failed) says so
        section = proof.section(name)
        if section["status"] == "running":
            section.update(status="skipped", reason="the networks could not be made")
    watchdog.cancel()
    shutil.rmtree(work, ignore_errors=True)  # the clip, the outputs, TensorRT's engines: not results
    proof.report["gates"] = gates(proof)
    proof.report["goals"] = goals(proof)
    proof.report["finished"] = True
    proof.save()
    summary = {"mode": proof.report["mode"], "wall_s": proof.report["wall_s"],
               "sections": {k: v["status"] for k, v in proof.report["sections"].items()},
               "goals": {k: v.get("met") if isinstance(v, dict) and "met" in v else
                         {n: g.get("met") for n, g in v.items()} for k, v in proof.report["goals"].items()},
               "json": str(proof.out / "gpu_proof.json")}
    print(json.dumps(summary, indent=2), flush=True)


if __name__ == "__main__":
    main()
