"""The engine on real ONNX Runtime sessions; GPU providers through a fake session factory."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import make_style_model
from onnx import TensorProto, helper

from realtime_style.engine import InferenceOptions, StyleEngine, geometry
from realtime_style.engine.adjust import blend_strength, preserve_color
from realtime_style.engine.providers import CPU, CUDA, TENSORRT, candidates
from realtime_style.errors import ModelError, ProviderError
from realtime_style.testcard import card_image

CPU_ONLY = InferenceOptions(provider="cpu")


def identity_model() -> bytes:
    x = helper.make_tensor_value_info("input", TensorProto.UINT8, [1, "h", "w", 3])
    y = helper.make_tensor_value_info("output", TensorProto.UINT8, [1, "h", "w", 3])
    nodes = [helper.make_node("Cast", ["input"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Cast", ["f"], ["output"], to=TensorProto.UINT8)]
    model = helper.make_model(helper.make_graph(nodes, "id", [x], [y]), opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model.SerializeToString()


def frame(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# -- geometry --------------------------------------------------------------------------------
@pytest.mark.parametrize("hw", [(1, 1), (2, 7), (3, 5), (16, 16), (17, 31), (359, 641), (1080, 1920)])
def test_plan_reaches_network_multiple_and_restores_size(hw):
    plan = geometry.plan_frame(*hw, multiple=4, min_side=16)
    ph, pw = plan.padded_hw
    assert ph % 4 == 0 and pw % 4 == 0 and min(ph, pw) >= 16
    out = geometry.restore(geometry.prepare(frame(*hw), plan), plan)
    assert out.shape == (*hw, 3)


def test_max_side_scales_the_network_input_only():
    plan = geometry.plan_frame(1080, 1920, max_side=640, multiple=4)
    assert max(plan.net_hw) == 640 and plan.net_hw == (360, 640)
    assert geometry.plan_frame(300, 200, max_side=0).net_hw == (300, 200)


def test_identity_model_returns_every_size_exactly():
    engine = StyleEngine(identity_model(), CPU_ONLY)
    for hw in [(16, 16), (17, 31), (101, 203), (360, 640)]:
        f = frame(*hw)
        assert np.array_equal(engine.stylize(f), f), hw


def test_padding_does_not_shift_the_image():
    """A frame that needs no padding and the same frame padded must agree where they overlap
    (apart from the one-pixel rim the 3x3 conv sees across the border)."""
    engine = StyleEngine(make_style_model(), CPU_ONLY)
    big = frame(64, 64)
    direct = engine.stylize(big)
    cropped = engine.stylize(np.ascontiguousarray(big[:62, :61]))
    assert np.array_equal(cropped[1:-1, 1:-1], direct[1:61, 1:60])


def test_fixed_size_model_handles_other_sizes():
    engine = StyleEngine(make_style_model(fixed_hw=(32, 48)), CPU_ONLY)
    assert engine.signature.fixed_hw == (32, 48)
    assert engine.stylize(frame(70, 100)).shape == (70, 100, 3)


# -- strength and colour ------------------------------------------------------------------------
def test_strength_zero_is_the_source_and_one_is_the_style():
    f = frame(40, 60)
    full = StyleEngine(make_style_model(), CPU_ONLY).stylize(f)
    assert not np.array_equal(full, f)
    zero = StyleEngine(make_style_model(), InferenceOptions(provider="cpu", strength=0.0)).stylize(f)
    assert np.array_equal(zero, f)
    half = blend_strength(full, f, 0.5).astype(int)
    lo, hi = np.minimum(full, f).astype(int), np.maximum(full, f).astype(int)
    assert np.all(half >= lo - 1) and np.all(half <= hi + 1)


def test_strength_can_change_between_frames():
    engine = StyleEngine(make_style_model(), CPU_ONLY)
    f = frame(32, 32)
    styled = engine.stylize(f)
    assert np.array_equal(engine.stylize(f, strength=0.0), f)
    assert np.array_equal(engine.stylize(f, strength=1.0), styled)
    assert np.array_equal(engine.stylize(f), styled)  # nothing stuck: the options' strength again


def test_preserve_color_keeps_source_chroma_and_style_luma():
    import cv2

    from realtime_style.testcard import card_image

    src = card_image(48, 64)
    styled = np.empty_like(src)
    styled[...] = (170, 120, 100)  # a warm, flat "style" of mid luminance
    out = preserve_color(styled, src)
    ycc = lambda im: cv2.cvtColor(im, cv2.COLOR_RGB2YCrCb).astype(int)
    assert np.abs(ycc(out)[..., 1:] - ycc(src)[..., 1:]).mean() < 3
    assert np.abs(ycc(out)[..., 0] - ycc(styled)[..., 0]).mean() < 3


def test_options_are_validated():
    for bad in (dict(strength=1.5), dict(provider="metal"), dict(precision="int8"), dict(max_side=-1)):
        with pytest.raises(ValueError):
            InferenceOptions(**bad)


def test_bad_models_are_model_errors(tmp_path):
    with pytest.raises(ModelError):
        StyleEngine(b"not an onnx model", CPU_ONLY)
    with pytest.raises(ModelError):
        StyleEngine(make_style_model(input_type=TensorProto.FLOAT), CPU_ONLY)
    with pytest.raises(ModelError):
        StyleEngine(tmp_path / "missing.onnx", CPU_ONLY)


def test_fp16_on_cpu_is_refused():
    with pytest.raises(ProviderError, match="GPU"):
        StyleEngine(make_style_model(), InferenceOptions(provider="cpu", precision="fp16"))


# -- providers: the GPU edge is faked, everything else is real -------------------------------------
class FakeGpuSession:
    """Stands in for a GPU session: reports GPU providers, computes on a real CPU session."""

    def __init__(self, model, sess_options=None, providers=(), provider_options=None, *, loads=(), corrupt_fp16=False,
                 corrupt_trt_fp16=False, fail_graph=False):
        self.requested = list(providers)
        self.provider_options = provider_options
        self._real = ort.InferenceSession(model, providers=[CPU])
        self._active = [p for p in self.requested if p in loads or p == CPU]
        meta = onnx.load_from_string(model).metadata_props
        self._fp16 = any(p.key == "precision" and p.value == "fp16" for p in meta)
        lead = (provider_options or [{}])[0] if self._active and self._active[0] != CPU else {}
        trt_fp16 = self._active[:1] == [TENSORRT] and lead.get("trt_fp16_enable") == "1"
        self._corrupt = (corrupt_fp16 and self._fp16) or (corrupt_trt_fp16 and trt_fp16)
        # A graph that cannot be captured (a node left on the CPU, say) fails on its first run.
        self.graph = lead.get("enable_cuda_graph") == "1" or lead.get("trt_cuda_graph_enable") == "1"
        self._fail = fail_graph and self.graph

    def get_providers(self):
        return self._active

    def get_inputs(self):
        return self._real.get_inputs()

    def get_outputs(self):
        return self._real.get_outputs()

    def get_modelmeta(self):
        return self._real.get_modelmeta()

    def run(self, names, feeds):
        out = self._real.run(names, feeds)
        if self._corrupt:
            out = [255 - o for o in out]
        return out

    # IO binding: the real CPU session's, with "device" buffers in host memory.
    device_type = "cpu"

    def io_binding(self):
        self.bindings = getattr(self, "bindings", 0) + 1
        return self._real.io_binding()

    def run_with_iobinding(self, binding):
        if self._fail:
            raise RuntimeError("CUDA graph capture failed: a node is assigned to the CPU")
        self.bound_runs = getattr(self, "bound_runs", 0) + 1
        self._real.run_with_iobinding(binding)


def fake_factory(loads, log=None, **kw):
    def factory(model, sess_options=None, providers=(), provider_options=None):
        session = FakeGpuSession(model, sess_options, providers, provider_options, loads=loads, **kw)
        if log is not None:
            log.append(session)
        return session

    return factory


ALL_COMPILED = lambda: [TENSORRT, CUDA, CPU]


def test_auto_falls_back_to_cpu_when_no_gpu_provider_loads():
    engine = StyleEngine(make_style_model(), InferenceOptions(), session_factory=fake_factory(loads=()),
                         compiled_in=ALL_COMPILED)
    assert engine.provider == "cpu" and engine.precision == "fp32"
    assert len(engine.fallbacks) == 2 and "tensorrt" in engine.fallbacks[0] and "cuda" in engine.fallbacks[1]


def test_explicit_gpu_provider_that_does_not_load_is_an_error_not_a_cpu_run():
    with pytest.raises(ProviderError, match="cuda"):
        StyleEngine(make_style_model(), InferenceOptions(provider="cuda"), session_factory=fake_factory(loads=()),
                    compiled_in=ALL_COMPILED)


def test_auto_prefers_tensorrt_then_cuda():
    made = []
    engine = StyleEngine(make_style_model(), InferenceOptions(),
                         session_factory=fake_factory(loads={TENSORRT, CUDA}, log=made),
                         compiled_in=ALL_COMPILED)
    assert engine.provider == "tensorrt" and engine.precision == "fp16"
    assert made[0].requested == [TENSORRT, CUDA, CPU]
    assert made[0].provider_options[0]["trt_fp16_enable"] == "1"
    engine = StyleEngine(make_style_model(), InferenceOptions(), session_factory=fake_factory(loads={CUDA}),
                         compiled_in=ALL_COMPILED)
    assert engine.provider == "cuda"


def test_cuda_fp16_is_used_when_it_passes_the_psnr_gate():
    made = []
    engine = StyleEngine(make_style_model(), InferenceOptions(provider="cuda"),
                         session_factory=fake_factory(loads={CUDA}, log=made), compiled_in=ALL_COMPILED)
    assert engine.precision == "fp16" and len(made) == 2
    assert engine.stylize(frame(20, 20)).shape == (20, 20, 3)


def test_cuda_fp16_failing_the_gate_stays_fp32_and_says_why():
    engine = StyleEngine(make_style_model(), InferenceOptions(provider="cuda"),
                         session_factory=fake_factory(loads={CUDA}, corrupt_fp16=True), compiled_in=ALL_COMPILED)
    assert engine.precision == "fp32"
    assert any("fp32" in n and "dB" in n for n in engine.notes)


def test_fp32_request_on_gpu_skips_fp16():
    engine = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32"),
                         session_factory=fake_factory(loads={CUDA}), compiled_in=ALL_COMPILED)
    assert engine.precision == "fp32"


def test_candidates_only_offer_compiled_in_providers_for_auto(tmp_path):
    assert [c.name for c in candidates("auto", [CPU], fp16=True, fixed_shape=False, cache_dir=None)] == ["cpu"]
    chains = candidates("auto", [TENSORRT, CUDA, CPU], fp16=True, fixed_shape=False, cache_dir=tmp_path)
    assert [c.name for c in chains] == ["tensorrt", "cuda", "cpu"]
    trt = dict(chains[0].providers)[TENSORRT]
    assert trt["trt_engine_cache_enable"] == "1" and trt["trt_engine_cache_path"] == str(tmp_path)
    assert dict(chains[1].providers)[CUDA]["cudnn_conv_algo_search"] == "HEURISTIC"
    fixed = candidates("cuda", [CUDA, CPU], fp16=False, fixed_shape=True, cache_dir=None)
    assert dict(fixed[0].providers)[CUDA]["cudnn_conv_algo_search"] == "EXHAUSTIVE"


def test_the_real_gpu_wheel_on_a_machine_without_gpu_runs_on_cpu():
    """On CI the onnxruntime-gpu wheel lists CUDA/TensorRT but they cannot load."""
    engine = StyleEngine(make_style_model(), InferenceOptions())
    assert engine.provider in ("cpu", "cuda", "tensorrt")
    assert engine.providers_active[0] in (CPU, CUDA, TENSORRT)


def test_parallelism_rules():
    from realtime_style.engine.engine import usable_cores

    cores = usable_cores()
    auto = StyleEngine(make_style_model(), InferenceOptions(provider="cpu", workers=0))
    assert auto.workers == cores and auto.threads == (1 if cores > 1 else 0)
    pinned = StyleEngine(make_style_model(), InferenceOptions(provider="cpu", workers=0, threads=2))
    assert (pinned.workers, pinned.threads) == (1, 2)
    single = StyleEngine(make_style_model(), dataclasses.replace(CPU_ONLY, auto_threads=False))
    assert (single.workers, single.threads) == (1, 0)  # ONNX Runtime's default
    # automatic: every core (0) when none is taken, else the free ones (the load decides, see test_bench)
    single = StyleEngine(make_style_model(), CPU_ONLY)
    assert single.workers == 1 and 0 <= single.threads < max(2, cores)
    gpu = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", workers=0),
                      session_factory=fake_factory(loads={CUDA}), compiled_in=ALL_COMPILED)
    assert gpu.workers == 1


def test_concurrent_stylize_calls_match_sequential_ones():
    import threading

    engine = StyleEngine(make_style_model(), InferenceOptions(provider="cpu", workers=2))
    frames = [frame(48 + 8 * (i % 3), 64, seed=i) for i in range(24)]
    want = [engine.stylize(f) for f in frames]
    got = [None] * len(frames)

    def work(k):
        for i in range(k, len(frames), 2):
            got[i] = engine.stylize(frames[i])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(np.array_equal(a, b) for a, b in zip(got, want))


def test_model_timing_runs_the_model_the_asked_number_of_times():
    from realtime_style.engine.timing import model_fps, model_latencies

    engine = StyleEngine(make_style_model(), CPU_ONLY)
    calls = []
    real = engine.infer
    engine.infer = lambda batch: calls.append(batch.shape) or real(batch)
    times = model_latencies(engine, 36, 52, runs=5, warmup=2)
    assert len(times) == 5 and all(t > 0 for t in times)
    assert len(calls) == 7 and calls[0] == (1, 36, 52, 3)  # padded to the model's multiple of 4
    assert model_fps(engine, 36, 52, runs=3, warmup=0) > 0


def test_gpu_provider_runs_through_device_buffers_reused_per_shape():
    made = []
    engine = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32"),
                         session_factory=fake_factory(loads={CUDA}, log=made), compiled_in=ALL_COMPILED)
    cpu = StyleEngine(make_style_model(), CPU_ONLY)
    a, b = card_image(40, 56, seed=1), card_image(40, 56, seed=2)
    for img in (a, b, a):
        assert np.array_equal(engine.stylize(img), cpu.stylize(img))
    assert engine._binding.allocations == 1  # same shape: the buffers are reused
    engine.stylize(card_image(24, 24))
    assert engine._binding.allocations == 2
    session = next(s for s in made if s.get_providers()[0] == CUDA)
    assert session.bound_runs == 4 and not engine.notes


def test_device_binding_failure_falls_back_to_plain_runs():
    engine = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32"),
                         session_factory=fake_factory(loads={CUDA}), compiled_in=ALL_COMPILED)
    engine._binding.device = "no-such-device"
    out = engine.stylize(card_image(32, 32))
    assert out.shape == (32, 32, 3) and engine._binding is None
    assert any("device buffers could not be bound" in n for n in engine.notes)


def test_notes_reach_the_callback_the_moment_they_happen():
    heard = []
    # at construction: the fp16 gate falls back
    engine = StyleEngine(make_style_model(), InferenceOptions(provider="cuda"), on_note=heard.append,
                         session_factory=fake_factory(loads={CUDA}, corrupt_fp16=True), compiled_in=ALL_COMPILED)
    assert len(heard) == 1 and "dB from fp32" in heard[0]
    # during a run: device buffers cannot be bound, heard within the very stylize call that met it
    engine._binding.device = "no-such-device"
    engine.stylize(card_image(32, 32))
    assert len(heard) == 2 and "device buffers could not be bound" in heard[1]
    assert engine.notes == heard  # the history, for whoever reads it afterwards


def test_a_per_size_session_failure_is_heard_through_the_callback():
    heard = []
    gpu = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32", one_size=True),
                      session_factory=fake_factory(loads={CUDA}, fail_graph=True), compiled_in=ALL_COMPILED,
                      on_note=heard.append)
    assert heard == []
    gpu.stylize(card_image(48, 64))
    assert len(heard) == 1 and "per-size cuda session" in heard[0] and "failed" in heard[0]


def test_strength_and_colour_are_given_per_call_not_set_on_the_engine():
    engine = StyleEngine(make_style_model(), InferenceOptions(provider="cpu", strength=0.5, preserve_color=True))
    f = frame(32, 32)
    assert np.array_equal(engine.stylize(f), engine.stylize(f, strength=0.5, preserve_color=True))
    full = engine.stylize(f, strength=1.0, preserve_color=False)
    assert np.array_equal(full, StyleEngine(make_style_model(), CPU_ONLY).stylize(f))
    assert engine.strength == 0.5 and engine.preserve_color  # the defaults, read-only
    with pytest.raises(AttributeError):
        engine.strength = 1.0


def test_one_size_streams_ask_cuda_for_an_exhaustive_conv_search():
    made = []
    StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32", one_size=True),
                session_factory=fake_factory(loads={CUDA}, log=made), compiled_in=ALL_COMPILED)
    StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32"),
                session_factory=fake_factory(loads={CUDA}, log=made), compiled_in=ALL_COMPILED)
    searches = [s.provider_options[0]["cudnn_conv_algo_search"] for s in made]
    assert searches == ["EXHAUSTIVE", "HEURISTIC"]


def test_live_smoothing_defaults_on_with_a_gpu_engine_and_off_on_the_cpu():
    from realtime_style.jobs.live import default_live_smoothing
    from realtime_style.temporal.smoother import DEFAULT_STRENGTH

    gpu = StyleEngine(make_style_model(), InferenceOptions(), session_factory=fake_factory(loads={CUDA}),
                      compiled_in=ALL_COMPILED)
    cpu = StyleEngine(make_style_model(), InferenceOptions(provider="cpu"))
    assert default_live_smoothing(gpu.providers_active) == DEFAULT_STRENGTH
    assert default_live_smoothing(cpu.providers_active) == 0.0


# -- per-size sessions (CUDA graphs, TensorRT profiles) and the TensorRT fp16 gate -----------------
def _frames(h, w, n=2):
    return [card_image(h, w) for _ in range(n)]


def test_one_size_runs_use_a_cuda_graph_session_per_size_with_the_same_output():
    made = []
    gpu = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32", one_size=True),
                      session_factory=fake_factory(loads={CUDA}, log=made), compiled_in=ALL_COMPILED)
    cpu = StyleEngine(make_style_model(), InferenceOptions(provider="cpu"))
    for h, w in ((48, 64), (48, 64), (32, 40)):
        frame = card_image(h, w)
        np.testing.assert_array_equal(gpu.stylize(frame), cpu.stylize(frame))
    general, *sized = made
    assert general.provider_options[0].get("enable_cuda_graph") is None  # the general session has no graph
    assert len(sized) == 2 and all(s.provider_options[0]["enable_cuda_graph"] == "1" for s in sized)
    assert sized[0].bound_runs == 2 and sized[1].bound_runs == 1  # the second 48x64 frame replayed the first size's
    assert not gpu.notes


def test_tensorrt_gets_an_exact_profile_per_size():
    made = []
    engine = StyleEngine(make_style_model(), InferenceOptions(provider="tensorrt", precision="fp32", one_size=True),
                         session_factory=fake_factory(loads={TENSORRT, CUDA}, log=made), compiled_in=ALL_COMPILED)
    engine.stylize(card_image(48, 64))
    assert len(made) == 2 and not hasattr(made[0], "bound_runs")  # checked against the CPU, not the general engine
    opts = made[-1].provider_options[0]
    assert opts["trt_profile_min_shapes"] == opts["trt_profile_opt_shapes"] == opts["trt_profile_max_shapes"] \
        == "input:1x48x64x3"
    assert opts["trt_cuda_graph_enable"] == "1"
    assert "enable_cuda_graph" not in made[-1].provider_options[1]  # CUDA behind TensorRT stays graph-free


def test_a_sized_session_that_fails_leaves_the_general_session_running():
    made = []
    gpu = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32", one_size=True),
                      session_factory=fake_factory(loads={CUDA}, log=made, fail_graph=True), compiled_in=ALL_COMPILED)
    cpu = StyleEngine(make_style_model(), InferenceOptions(provider="cpu"))
    for frame in _frames(48, 64, 3):
        np.testing.assert_array_equal(gpu.stylize(frame), cpu.stylize(frame))
    assert len(made) == 2  # tried once, not again for every frame
    assert any("per-size cuda session" in n and "failed" in n for n in gpu.notes)


def test_photos_of_many_sizes_get_no_sized_sessions():
    made = []
    engine = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32"),
                         session_factory=fake_factory(loads={CUDA}, log=made), compiled_in=ALL_COMPILED)
    engine.stylize(card_image(48, 64))
    engine.stylize(card_image(32, 40))
    assert len(made) == 1


def test_tensorrt_fp16_is_gated_against_fp32_on_the_cpu():
    made = []
    good = StyleEngine(make_style_model(), InferenceOptions(provider="tensorrt"),
                       session_factory=fake_factory(loads={TENSORRT, CUDA}, log=made), compiled_in=ALL_COMPILED)
    assert good.precision == "fp16" and len(made) == 1 and not good.notes
    made.clear()
    bad = StyleEngine(make_style_model(), InferenceOptions(provider="tensorrt"),
                      session_factory=fake_factory(loads={TENSORRT, CUDA}, log=made, corrupt_trt_fp16=True),
                      compiled_in=ALL_COMPILED)
    assert bad.precision == "fp32" and "TensorRT fp16" in bad.notes[0] and "dB from fp32" in bad.notes[0]
    assert [s.provider_options[0]["trt_fp16_enable"] for s in made] == ["1", "0"]
    frame = card_image(48, 64)
    np.testing.assert_array_equal(bad.stylize(frame), StyleEngine(make_style_model(),
                                                                  InferenceOptions(provider="cpu")).stylize(frame))


def test_the_engine_says_which_sizes_run_on_their_own_session():
    gpu = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", precision="fp32", one_size=True),
                      session_factory=fake_factory(loads={CUDA}), compiled_in=ALL_COMPILED)
    assert not gpu.per_size_session(48, 64)
    gpu.stylize(card_image(48, 64))
    assert gpu.per_size_session(48, 64) and not gpu.per_size_session(32, 40)
    cpu = StyleEngine(make_style_model(), InferenceOptions(provider="cpu", one_size=True))
    cpu.stylize(card_image(48, 64))
    assert not cpu.per_size_session(48, 64)


def test_cpu_threads_sleep_instead_of_spinning_when_asked():
    """`spin=False` (live with smoothing: another stage shares the cores) reaches the real ONNX
    Runtime session's options; by default its threads spin."""
    seen = []

    def factory(model, sess_options, providers, provider_options):
        try:
            seen.append(sess_options.get_session_config_entry("session.intra_op.allow_spinning"))
        except RuntimeError:  # not set: ONNX Runtime's default, spinning
            seen.append("default")
        return ort.InferenceSession(model, sess_options=sess_options, providers=providers,
                                    provider_options=provider_options)

    frame = card_image(48, 64, seed=2)
    quiet = StyleEngine(make_style_model(), InferenceOptions(provider="cpu", threads=2, spin=False),
                        session_factory=factory)
    busy = StyleEngine(make_style_model(), InferenceOptions(provider="cpu", threads=2), session_factory=factory)
    assert seen == ["0", "default"]
    assert np.array_equal(quiet.stylize(frame), busy.stylize(frame))


def test_each_gate_keeps_what_it_measured():
    """The fp16, TensorRT fp16 and per-size checks record their dB (bench reports them as
    gates_db), passed or not."""
    cuda = StyleEngine(make_style_model(), InferenceOptions(provider="cuda", one_size=True),
                       session_factory=fake_factory(loads={CUDA}), compiled_in=ALL_COMPILED)
    assert cuda.precision == "fp16" and cuda.gates["fp16"] >= 40.0
    cuda.stylize(card_image(48, 64))
    assert cuda.gates["per_size 64x48"] >= 40.0  # the sized fp16 session against the general one
    bad = StyleEngine(make_style_model(), InferenceOptions(provider="cuda"),
                      session_factory=fake_factory(loads={CUDA}, corrupt_fp16=True), compiled_in=ALL_COMPILED)
    assert bad.precision == "fp32" and bad.gates["fp16"] < 40.0
    trt = StyleEngine(make_style_model(), InferenceOptions(provider="tensorrt"),
                      session_factory=fake_factory(loads={TENSORRT, CUDA}, corrupt_trt_fp16=True),
                      compiled_in=ALL_COMPILED)
    assert trt.precision == "fp32" and trt.gates["tensorrt_fp16"] < 40.0 and "fp16" not in trt.gates
    cpu = StyleEngine(make_style_model(), InferenceOptions(provider="cpu", one_size=True))
    cpu.stylize(card_image(48, 64))
    assert cpu.gates == {}


def test_per_size_sessions_can_be_turned_off_for_comparison():
    made = []
    gpu = StyleEngine(make_style_model(),
                      InferenceOptions(provider="cuda", precision="fp32", one_size=True, per_size=False),
                      session_factory=fake_factory(loads={CUDA}, log=made), compiled_in=ALL_COMPILED)
    for frame in _frames(48, 64):
        gpu.stylize(frame)
    assert len(made) == 1 and not gpu.per_size_session(48, 64)
    assert made[0].provider_options[0]["cudnn_conv_algo_search"] == "EXHAUSTIVE"  # still a one-size stream
    assert made[0].bound_runs == 2  # through the device buffers, without a graph
