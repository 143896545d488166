"""The CLI's error contract, through Typer's CliRunner on the real app.

Every failure the user can act on is exactly one ``error: ...`` line on stderr, exit code 1,
no traceback (unless ``--debug``), and leaves nothing behind: no output file, no temporary
file, no registry entry. Usage errors exit 2. Also: the ``models`` commands' happy path
(import / list --json / info / remove) and importing ml5 teacher folders built from scratch.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import make_style_model
from onnx import TensorProto
from typer.testing import CliRunner

from realtime_style.cli import app

runner = CliRunner()

CONTRACT_KEYS = {"name", "builtin", "path", "arch", "license", "artwork", "source", "sha256"}


# -- helpers -----------------------------------------------------------------------------------
def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(result) -> None:
    assert result.exit_code == 0, (
        f"exit {result.exit_code}\nstdout: {result.stdout}\nstderr: {result.stderr}\nexc: {result.exception!r}"
    )
    assert "Traceback" not in result.output


def assert_error(result, *fragments: str, ignore_blank_lines: bool = False) -> str:
    """Exactly one ``error: `` line on stderr, exit 1, no traceback, nothing on stdout.

    ``ignore_blank_lines`` tolerates empty lines around it (the multi-image progress bar
    leaves one; see test_multi_image_error_is_exactly_one_line for that bug)."""
    detail = f"exit {result.exit_code}\nstdout: {result.stdout!r}\nstderr: {result.stderr!r}"
    assert result.exit_code == 1, detail
    assert isinstance(result.exception, SystemExit), f"{result.exception!r} escaped\n{detail}"
    assert "Traceback" not in result.output, detail
    lines = result.stderr.splitlines()
    if ignore_blank_lines:
        lines = [line for line in lines if line.strip()]
    assert len(lines) == 1, detail
    assert lines[0].startswith("error: "), detail
    assert len(lines[0]) > len("error: ") + 5, detail
    assert result.stdout == "", detail
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in the error line\n{detail}"
    return lines[0]


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every path under ``directory`` (hidden ones included) with its content."""
    out: dict[str, bytes | None] = {}
    for root, dirs, files in os.walk(directory):
        for d in dirs:
            out[os.path.relpath(os.path.join(root, d), directory) + "/"] = None
        for f in files:
            p = os.path.join(root, f)
            out[os.path.relpath(p, directory)] = Path(p).read_bytes()
    return out


def png(path: Path, h: int = 24, w: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    assert cv2.imwrite(str(path), rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return path


def imported(listing: list[dict]) -> list[dict]:
    return [r for r in listing if not r["builtin"]]


def list_json() -> list[dict]:
    res = invoke("models", "list", "--json")
    ok(res)
    return json.loads(res.stdout)


@pytest.fixture
def work(tmp_path, model_home):
    """A working folder with one good image and an empty output folder."""
    w = tmp_path / "work"
    w.mkdir()
    png(w / "in.png")
    (w / "out").mkdir()
    return w


def image_fails(work: Path, inputs, output: Path, *extra, fragments=(), watch: Path | None = None,
                existing: bool = False, ignore_blank_lines: bool = False):
    """Run `image` expecting an error; the watched folder must be unchanged (no files, no temps)."""
    watch = watch or work / "out"
    before = snapshot(watch)
    res = invoke("image", *inputs, "-o", output, "--provider", "cpu", *extra)
    line = assert_error(res, *fragments, ignore_blank_lines=ignore_blank_lines)
    assert output.exists() == existing
    assert snapshot(watch) == before
    return line


# -- image: bad inputs -------------------------------------------------------------------------
def test_missing_input(work, tiny_model):
    image_fails(work, [work / "nope.png"], work / "out" / "x.png", "--style", tiny_model, fragments=("nope.png",))


def test_empty_input_file(work, tiny_model):
    (work / "empty.png").write_bytes(b"")
    image_fails(work, [work / "empty.png"], work / "out" / "x.png", "--style", tiny_model, fragments=("empty",))


def test_garbage_bytes_named_jpg(work, tiny_model):
    (work / "junk.jpg").write_bytes(os.urandom(64) + b"definitely not a JPEG" * 20)
    image_fails(work, [work / "junk.jpg"], work / "out" / "x.png", "--style", tiny_model, fragments=("junk.jpg",))


def test_truncated_png(work, tiny_model):
    data = (work / "in.png").read_bytes()
    (work / "cut.png").write_bytes(data[: len(data) // 3])
    image_fails(work, [work / "cut.png"], work / "out" / "x.png", "--style", tiny_model)


def test_directory_without_images(work, tiny_model):
    empty = work / "no_images"
    empty.mkdir()
    (empty / "readme.txt").write_text("hello")
    (empty / ".hidden.png.tmp").write_text("x")
    image_fails(work, [empty], work / "out" / "sub", "--style", tiny_model, fragments=("no_images",))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_output_directory(work, tiny_model):
    ro = work / "readonly"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        image_fails(work, [work / "in.png"], ro / "x.png", "--style", tiny_model, watch=ro)
    finally:
        ro.chmod(0o700)


def test_output_inside_a_regular_file(work, tiny_model):
    blocker = work / "file.txt"
    blocker.write_text("I am a file")
    image_fails(work, [work / "in.png"], blocker / "out.png", "--style", tiny_model, watch=work)
    assert blocker.read_text() == "I am a file"


def test_output_directory_inside_a_regular_file(work, tiny_model):
    blocker = work / "file.txt"
    blocker.write_text("I am a file")
    png(work / "in2.png", seed=1)
    image_fails(work, [work / "in.png", work / "in2.png"], blocker / "outdir", "--style", tiny_model, watch=work,
                ignore_blank_lines=True)


def test_bad_images_in_a_directory_are_skipped_named_and_counted(work, tiny_model):
    indir = work / "batch"
    indir.mkdir()
    for i in range(12):
        png(indir / f"p{i:02d}.png", seed=i)
    (indir / "p03.png").write_bytes(b"")  # one bad file among 12 (it stopped the run at 3 of 12)
    (indir / "notes.txt").write_text("not an image")
    (indir / "holiday.mp4").write_bytes(b"x")
    (indir / "sub").mkdir()
    png(indir / "sub" / "deep.png", seed=20)
    outdir = work / "out" / "batch"
    res = invoke("image", indir, "-o", outdir, "--style", tiny_model, "--provider", "cpu")
    assert res.exit_code == 1 and "Traceback" not in res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("error: 11 of 12 written to ") and "1 failed: " in lines[-1], lines
    assert "p03.png" in lines[-1] and "empty" in lines[-1]
    notes = "\n".join(lines[:-1])
    assert "2 files that are not an image (holiday.mp4, notes.txt)" in notes and "convert" in notes
    assert "1 subfolder (sub); --recursive" in notes
    assert sorted(p.name for p in outdir.iterdir()) == sorted(f"p{i:02d}.png" for i in range(12) if i != 3)

    # a rerun: the existing outputs are an error that names both ways out ...
    res = invoke("image", indir, "-o", outdir, "--style", tiny_model, "--provider", "cpu")
    assert_error(res, "--skip-existing", "--overwrite", "and 10 other outputs")
    # ... and --skip-existing does only the rest (here: the bad one again), saying what it left
    (indir / "p03.png").write_bytes((indir / "p02.png").read_bytes())
    res = invoke("image", indir, "-o", outdir, "--style", tiny_model, "--provider", "cpu", "--skip-existing")
    ok(res)
    assert "skipped 11 images whose output exists already" in res.stderr
    assert "wrote 1 image to" in res.stderr
    res = invoke("image", indir, "-o", outdir, "--style", tiny_model, "--provider", "cpu", "--skip-existing")
    ok(res)
    assert "nothing to do" in res.stderr


def test_recursive_mirrors_subfolders(work, tiny_model):
    indir = work / "tree"
    (indir / "a" / "b").mkdir(parents=True)
    png(indir / "top.png", seed=1)
    png(indir / "a" / "mid.png", seed=2)
    png(indir / "a" / "b" / "low.png", seed=3)
    outdir = work / "out" / "tree"
    ok(invoke("image", indir, "-o", outdir, "--style", tiny_model, "--provider", "cpu", "--recursive"))
    got = sorted(str(p.relative_to(outdir)) for p in outdir.rglob("*") if p.is_file())
    assert got == ["a/b/low.png", "a/mid.png", "top.png"]
    only_sub = work / "only_sub"
    (only_sub / "x").mkdir(parents=True)
    png(only_sub / "x" / "y.png")
    image_fails(work, [only_sub], work / "out" / "o", "--style", tiny_model, fragments=("--recursive",))


def test_a_video_given_to_image_points_to_convert(work, tiny_model):
    (work / "clip.mp4").write_bytes(b"\x00" * 100)
    image_fails(work, [work / "clip.mp4"], work / "out" / "x.png", "--style", tiny_model,
                fragments=("is a video", "realtime-style convert"))


def test_multi_image_error_is_exactly_one_line(work, tiny_model):
    blocker = work / "file.txt"
    blocker.write_text("I am a file")
    png(work / "in2.png", seed=1)
    res = invoke("image", work / "in.png", work / "in2.png", "-o", blocker / "outdir", "--style", tiny_model,
                 "--provider", "cpu")
    assert res.exit_code == 1
    assert res.stderr.splitlines()[0].startswith("error: "), repr(res.stderr)
    assert len(res.stderr.splitlines()) == 1, repr(res.stderr)


def test_existing_output_without_overwrite_is_kept(work, tiny_model):
    target = work / "out" / "x.png"
    target.write_bytes(b"precious")
    image_fails(work, [work / "in.png"], target, "--style", tiny_model, fragments=("--overwrite",), existing=True)
    assert target.read_bytes() == b"precious"


def test_existing_output_with_overwrite_is_replaced(work, tiny_model):
    target = work / "out" / "x.png"
    target.write_bytes(b"precious")
    res = invoke("image", work / "in.png", "-o", target, "--style", tiny_model, "--provider", "cpu", "--overwrite")
    ok(res)
    img = cv2.imread(str(target), cv2.IMREAD_UNCHANGED)
    assert img is not None and img.shape == (24, 32, 3)
    assert sorted(p.name for p in (work / "out").iterdir()) == ["x.png"]  # no temporaries left


# -- image: bad styles -------------------------------------------------------------------------
def test_unknown_style_name(work):
    image_fails(work, [work / "in.png"], work / "out" / "x.png", "--style", "no-such-style",
                fragments=("no-such-style",))


def test_style_path_to_missing_onnx(work):
    image_fails(work, [work / "in.png"], work / "out" / "x.png", "--style", work / "ghost.onnx",
                fragments=("ghost.onnx",))


def test_style_garbage_onnx(work):
    bad = work / "garbage.onnx"
    bad.write_bytes(b"\x08\x01garbage that is not a protobuf model" * 10)
    image_fails(work, [work / "in.png"], work / "out" / "x.png", "--style", bad)


@pytest.mark.parametrize(
    "kwargs", [{"input_type": TensorProto.FLOAT}, {"input_name": "x"}], ids=["float-input", "input-named-x"]
)
def test_style_wrong_signature(work, kwargs):
    bad = work / "wrong.onnx"
    bad.write_bytes(make_style_model(**kwargs))
    image_fails(work, [work / "in.png"], work / "out" / "x.png", "--style", bad, fragments=("uint8",))


@pytest.fixture(scope="module")
def cuda_really_loads() -> bool:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    try:
        sess = ort.InferenceSession(
            make_style_model(), sess_options=so, providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
        )
    except Exception:  # noqa: BLE001
        return False
    return "CUDAExecutionProvider" in sess.get_providers()


def test_provider_cuda_without_gpu_is_an_error(work, tiny_model, cuda_really_loads):
    if cuda_really_loads:
        pytest.skip("CUDA loads on this machine")
    image_fails(work, [work / "in.png"], work / "out" / "x.png", "--style", tiny_model, "--provider", "cuda",
                fragments=("cuda",))


def test_provider_cuda_with_fp16_without_gpu_is_an_error(work, tiny_model, cuda_really_loads):
    if cuda_really_loads:
        pytest.skip("CUDA loads on this machine")
    image_fails(work, [work / "in.png"], work / "out" / "x.png", "--style", tiny_model, "--provider", "cuda",
                "--precision", "fp16", fragments=("cuda",))


def test_fp16_on_cpu_is_an_error(work, tiny_model):
    image_fails(work, [work / "in.png"], work / "out" / "x.png", "--style", tiny_model, "--precision", "fp16")


# -- usage errors ------------------------------------------------------------------------------
def test_missing_output_option_is_a_usage_error(work, tiny_model):
    res = invoke("image", work / "in.png", "--style", tiny_model)
    assert res.exit_code == 2
    assert "Traceback" not in res.output


def test_strength_out_of_range_is_a_usage_error(work, tiny_model):
    res = invoke("image", work / "in.png", "-o", work / "out" / "x.png", "--style", tiny_model, "--strength", "2")
    assert res.exit_code == 2
    assert not (work / "out" / "x.png").exists()


@pytest.mark.parametrize("option,value", [("--provider", "gpu"), ("--precision", "fp64")])
def test_invalid_choice_is_a_usage_error(work, tiny_model, option, value):
    res = invoke("image", work / "in.png", "-o", work / "out" / "x.png", "--style", tiny_model, option, value)
    assert not (work / "out" / "x.png").exists()
    assert "internal error" not in res.output
    assert res.exit_code == 2, res.output


def test_invalid_import_format_is_a_usage_error(tiny_model, model_home):
    res = invoke("models", "import", tiny_model, "--name", "t", "--format", "zip")
    assert "internal error" not in res.output
    assert res.exit_code == 2, res.output


# -- --debug -----------------------------------------------------------------------------------
def test_debug_lets_the_exception_through(model_home):
    quiet = invoke("models", "info", "nope")
    assert_error(quiet, "nope")
    loud = invoke("--debug", "models", "info", "nope")
    assert loud.exit_code != 0
    assert loud.exception is not None and not isinstance(loud.exception, SystemExit), repr(loud.exception)
    assert "nope" in str(loud.exception)
    # and the flag does not stick to the next invocation
    assert_error(invoke("models", "info", "nope"), "nope")


def test_debug_on_a_bad_image(work, tiny_model):
    (work / "junk.jpg").write_bytes(b"not an image at all" * 10)
    res = invoke("--debug", "image", work / "junk.jpg", "-o", work / "out" / "x.png", "--style", tiny_model,
                 "--provider", "cpu")
    assert res.exit_code != 0
    assert res.exception is not None and not isinstance(res.exception, SystemExit), repr(res.exception)
    assert not (work / "out" / "x.png").exists()


# -- models: bad imports -----------------------------------------------------------------------
def _registry_files(home: Path) -> dict:
    return snapshot(home) if home.exists() else {}


def import_fails(home: Path, *args, fragments=()):
    before_list = list_json()
    before_files = _registry_files(home)
    res = invoke("models", "import", *args)
    line = assert_error(res, *fragments)
    assert list_json() == before_list
    assert imported(list_json()) == []
    after = {k: v for k, v in _registry_files(home).items() if not k.endswith("/")}
    assert after == {k: v for k, v in before_files.items() if not k.endswith("/")}
    return line


def test_import_garbage_onnx(tmp_path, model_home):
    bad = tmp_path / "garbage.onnx"
    bad.write_bytes(os.urandom(256))
    import_fails(model_home, bad, "--name", "g")


def test_import_text_named_onnx(tmp_path, model_home):
    bad = tmp_path / "text.onnx"
    bad.write_text("this is not a model\n" * 20)
    import_fails(model_home, bad, "--name", "g")


@pytest.mark.parametrize(
    "kwargs", [{"input_type": TensorProto.FLOAT}, {"input_name": "x"}], ids=["float-input", "input-named-x"]
)
def test_import_wrong_signature(tmp_path, model_home, kwargs):
    bad = tmp_path / "wrong.onnx"
    bad.write_bytes(make_style_model(**kwargs))
    import_fails(model_home, bad, "--name", "wrong")
    assert_error(invoke("models", "info", "wrong"))


def test_import_missing_path(tmp_path, model_home):
    import_fails(model_home, tmp_path / "missing.onnx", "--name", "m", fragments=("missing.onnx",))


@pytest.mark.parametrize("name", ["../evil", "a/b", "", "-dash", ".hidden", "x" * 65, "sp ace"])
def test_import_invalid_name(tmp_path, tiny_model, model_home, name):
    import_fails(model_home, tiny_model, "--name", name)
    assert not (model_home / "evil.onnx").exists()
    assert not (tmp_path / "evil.onnx").exists()
    assert not any(tmp_path.rglob("evil*"))


def test_import_into_a_home_that_is_a_file(tmp_path, tiny_model, monkeypatch):
    home = tmp_path / "home_file"
    home.write_text("not a directory")
    monkeypatch.setenv("REALTIME_STYLE_HOME", str(home))
    res = invoke("models", "import", tiny_model, "--name", "t")
    assert_error(res)
    assert home.read_text() == "not a directory"


def test_info_and_remove_of_unknown_name(model_home):
    assert_error(invoke("models", "info", "ghost"), "ghost")
    assert_error(invoke("models", "info", "ghost", "--json"), "ghost")
    assert_error(invoke("models", "remove", "ghost"), "ghost")


def test_import_twice_needs_overwrite(tmp_path, tiny_model, model_home):
    ok(invoke("models", "import", tiny_model, "--name", "dup"))
    first = list_json()
    stored = Path(imported(first)[0]["path"])
    data = stored.read_bytes()
    other = tmp_path / "other.onnx"
    other.write_bytes(make_style_model(seed=5))
    assert_error(invoke("models", "import", other, "--name", "dup"), "dup")
    assert stored.read_bytes() == data
    assert list_json() == first
    ok(invoke("models", "import", other, "--name", "dup", "--overwrite"))
    assert stored.read_bytes() != data
    assert [r["name"] for r in imported(list_json())] == ["dup"]
    assert sorted(p.name for p in stored.parent.iterdir()) == ["dup.onnx"]


def test_an_accepted_name_is_usable_as_style(tmp_path, tiny_model, model_home, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = invoke("models", "import", tiny_model, "--name", "x.onnx")
    if res.exit_code != 0:  # refusing the name is a fine fix too
        assert_error(res)
        return
    png(tmp_path / "in.png")
    ok(invoke("image", tmp_path / "in.png", "-o", tmp_path / "out.png", "--style", "x.onnx", "--provider", "cpu"))


# -- models: the happy path --------------------------------------------------------------------
def test_import_list_info_remove(tiny_model, model_home):
    assert imported(list_json()) == []
    res = invoke("models", "import", tiny_model, "--name", "mine")
    ok(res)
    assert res.stdout == ""  # messages go to stderr

    records = imported(list_json())
    assert len(records) == 1
    rec = records[0]
    assert CONTRACT_KEYS <= set(rec), CONTRACT_KEYS - set(rec)
    assert rec["name"] == "mine"
    assert rec["builtin"] is False
    stored = Path(rec["path"])
    assert stored.is_file()
    assert stored.resolve().is_relative_to(model_home.resolve())
    assert rec["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert rec["arch"] == "tiny-conv" and rec["license"] == "CC0"

    res = invoke("models", "info", "mine", "--json")
    ok(res)
    info = json.loads(res.stdout)
    assert CONTRACT_KEYS <= set(info)
    assert info["name"] == "mine" and info["sha256"] == rec["sha256"] and info["path"] == rec["path"]
    ok(invoke("models", "info", "mine"))

    res = invoke("models", "remove", "mine")
    ok(res)
    assert not stored.exists()
    assert imported(list_json()) == []
    assert_error(invoke("models", "info", "mine"), "mine")


# -- ml5 teacher folders -----------------------------------------------------------------------
_RES = [((3, 3, 128, 128), False)] * 10
ML5_LAYERS = (
    [((9, 9, 3, 32), False), ((3, 3, 32, 64), False), ((3, 3, 64, 128), False)]
    + _RES
    + [((3, 3, 64, 128), True), ((3, 3, 32, 64), True), ((9, 9, 32, 3), False)]
)  # (TF kernel shape, transposed); transposed kernels are [kh, kw, out, in]


def make_ml5(directory: Path, seed: int = 0) -> Path:
    """A synthetic ml5 fast-style-transfer checkpoint: manifest.json + 48 raw float32 files."""
    directory.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    manifest = {}
    index = 0
    for kshape, transposed in ML5_LAYERS:
        out = kshape[2] if transposed else kshape[3]
        fan_in = kshape[0] * kshape[1] * (kshape[3] if transposed else kshape[2])
        arrays = [
            rng.normal(0, 1.0 / np.sqrt(fan_in), kshape),
            rng.normal(0, 0.1, (out,)),
            1.0 + rng.normal(0, 0.1, (out,)),
        ]
        for arr in arrays:
            name = "Variable" if index == 0 else f"Variable_{index}"
            arr.astype("<f4").tofile(directory / name)
            manifest[name] = {"filename": name, "shape": list(arr.shape)}
            index += 1
    assert index == 48
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return directory


def test_synthetic_ml5_layout_matches_the_reference():
    from reference_ml5 import LAYERS

    assert [k for _, k, _, _ in LAYERS] == [k for k, _ in ML5_LAYERS]


def _ml5_missing_file(d: Path) -> str:
    (d / "Variable_5").unlink()
    return "Variable_5"


def _ml5_wrong_count(d: Path) -> str:
    data = np.fromfile(d / "Variable_7", dtype="<f4")
    data[:-3].tofile(d / "Variable_7")
    return "Variable_7"


def _ml5_wrong_shape(d: Path) -> str:
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["Variable_3"]["shape"] = [3, 3, 32, 65]
    (d / "manifest.json").write_text(json.dumps(manifest))
    np.zeros(3 * 3 * 32 * 65, "<f4").tofile(d / "Variable_3")
    return "Variable_3"


def _ml5_missing_manifest_entry(d: Path) -> str:
    manifest = json.loads((d / "manifest.json").read_text())
    del manifest["Variable_47"]
    (d / "manifest.json").write_text(json.dumps(manifest))
    return "Variable_47"


def _ml5_nan(d: Path) -> str:
    data = np.fromfile(d / "Variable_9", dtype="<f4")
    data[0] = np.nan
    data.tofile(d / "Variable_9")
    return "Variable_9"


def _ml5_bad_json(d: Path) -> str:
    (d / "manifest.json").write_text("{ not json")
    return "manifest.json"


@pytest.mark.parametrize(
    "spoil",
    [_ml5_missing_file, _ml5_wrong_count, _ml5_wrong_shape, _ml5_missing_manifest_entry, _ml5_nan, _ml5_bad_json],
    ids=["missing-file", "wrong-count", "wrong-shape", "missing-entry", "nan", "bad-json"],
)
def test_broken_ml5_folder(tmp_path, model_home, spoil):
    teacher = make_ml5(tmp_path / "wave")
    what = spoil(teacher)
    import_fails(model_home, teacher, "--name", "t", "--format", "ml5", fragments=(what,))
    # auto-detection sees the same folder as ml5 and fails the same way
    import_fails(model_home, teacher, "--name", "t", fragments=(what,))


def test_directory_without_manifest(tmp_path, model_home):
    d = tmp_path / "plain"
    d.mkdir()
    (d / "Variable").write_bytes(b"\0" * 16)
    import_fails(model_home, d, "--name", "t", fragments=("manifest.json",))


def test_good_synthetic_ml5_folder_imports(tmp_path, model_home):
    pytest.importorskip("torch")
    teacher = make_ml5(tmp_path / "wave", seed=3)
    res = invoke("models", "import", teacher, "--name", "t", "--format", "ml5")
    ok(res)
    records = imported(list_json())
    assert [r["name"] for r in records] == ["t"]
    rec = records[0]
    assert rec["arch"] == "engstrom"
    assert rec["source"] == "ml5:wave"
    stored = Path(rec["path"])
    assert rec["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    # and the imported model really runs through `image`
    png(tmp_path / "in.png", 20, 28)
    ok(invoke("image", tmp_path / "in.png", "-o", tmp_path / "out.png", "--style", "t", "--provider", "cpu"))
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (20, 28, 3)


def test_single_output_with_unknown_image_suffix_is_refused(work, tiny_model):
    res = invoke("image", work / "in.png", "-o", work / "result.gif", "--style", tiny_model)
    assert res.exit_code == 1 and res.stderr.startswith("error: unknown image format .gif")
    assert not (work / "result.gif").exists()


# -- one name per idea (../shared/spec/cli.md) ---------------------------------------------------
def test_max_frames_on_every_command_and_the_old_frame_limit_still_works(tmp_path, tiny_model, model_home):
    from clips import make_clip

    clip = tmp_path / "c.mp4"
    make_clip(clip, frames=8)
    for option in ("--max-frames", "--frame-limit"):
        out = tmp_path / f"o{option}.mp4"
        ok(invoke("convert", clip, out, "--style", tiny_model, "--provider", "cpu", "--smooth", "0", option, "3"))
        res = invoke("eval", clip, "--style", tiny_model, "--provider", "cpu", option, "3", "--json")
        ok(res)
        assert json.loads(res.stdout)["pairs"] == 2
    for command in ("convert", "eval", "live"):
        text = invoke(command, "--help").stdout
        assert "--max-frames" in text and "--frame-limit" not in text, command  # the alias is hidden


def test_debug_is_accepted_anywhere_on_the_line(model_home):
    loud = invoke("models", "info", "nope", "--debug")
    assert loud.exception is not None and not isinstance(loud.exception, SystemExit), repr(loud.exception)


def test_preserve_colour_both_spellings(work, tiny_model):
    for i, option in enumerate(("--preserve-color", "--preserve-colour")):
        ok(invoke("image", work / "in.png", "-o", work / "out" / f"{i}.png", "--style", tiny_model,
                  "--provider", "cpu", option))
    assert (work / "out" / "0.png").read_bytes() == (work / "out" / "1.png").read_bytes()


def test_bench_sizes_error_names_sizes(tiny_model):
    res = invoke("bench", "--style", tiny_model, "--sizes", "foo")
    assert res.exit_code == 2 and "--sizes" in res.output and "'--size'" not in res.output, res.output


def test_models_list_json_marks_exactly_one_default(model_home):
    listing = list_json()
    defaults = [r["name"] for r in listing if r["default"]]
    assert defaults == ["wave"], defaults
    res = invoke("models", "info", "wave", "--json")
    ok(res)
    assert json.loads(res.stdout)["default"] is True


# -- CLI polish ------------------------------------------------------------------------------------
@pytest.mark.parametrize("args,fragment", [
    (["image", "in.png", "-o", "x.png", "--strength", "2"], "--strength"),
    (["image", "in.png", "--frobnicate"], "--frobnicate"),
    (["image", "in.png", "-o", "x.png", "--provider", "gpu"], "--provider"),
    (["imag"], "did you mean 'image'"),
])
def test_usage_errors_are_one_plain_line(args, fragment):
    res = invoke(*args)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert fragment.lower() in lines[0].lower() and "╭" not in res.output and "Traceback" not in res.output
    assert "--help" in lines[0]  # where to look


def test_help_has_plain_metavars_and_names_the_default_style():
    import re

    commands = ["image", "convert", "live", "eval", "bench", "bench-compare", "export", "distill", "train",
                "optimize", "doctor", "serve", "models list", "models info", "models import", "models pull"]
    for command in commands:
        res = invoke(*command.split(), "--help")
        ok(res)
        assert not re.search(r"<(str|bool|int|float|list|path)", res.stdout), (command, res.stdout)
    assert "default: wave" in invoke("image", "--help").stdout


def test_models_list_names_the_default(model_home):
    res = invoke("models", "list")
    ok(res)
    assert "wave (default)" in res.stdout and "without --style, wave is used" in res.stderr


def test_style_names_ignore_case_and_unknown_ones_get_a_suggestion(work):
    ok(invoke("image", work / "in.png", "-o", work / "out" / "a.png", "--style", "Wave", "--provider", "cpu"))
    image_fails(work, [work / "in.png"], work / "out" / "b.png", "--style", "waves",
                fragments=("did you mean 'wave'",))
    line = image_fails(work, [work / "in.png"], work / "out" / "b.png", "--style", "zzzz")
    assert "did you mean" not in line


def test_counts_are_singular_for_one(tmp_path, tiny_model, model_home):
    from clips import make_clip

    make_clip(tmp_path / "one.mp4", frames=1)
    res = invoke("convert", tmp_path / "one.mp4", tmp_path / "o.mp4", "--style", tiny_model, "--provider", "cpu")
    ok(res)
    assert "1 frame in" in res.stderr and "1 frames" not in res.stderr, res.stderr


# -- edge cases with a message that says what to do ------------------------------------------------
def test_an_absurd_size_is_refused_up_front(tiny_model):
    res = invoke("live", "--source", "synthetic", "--headless", "--max-frames", "1", "--size", "99999x99999",
                 "--style", tiny_model)
    assert res.exit_code == 2 and "at most 16384" in res.stderr and "internal error" not in res.output, res.output


def test_out_of_memory_is_one_line_with_advice(work, tiny_model, monkeypatch):
    from realtime_style.jobs import image as job

    def no_memory(*_a, **_k):
        raise MemoryError("Unable to allocate 596. GiB")

    monkeypatch.setattr(job, "read_image", no_memory)
    line = image_fails(work, [work / "in.png"], work / "out" / "x.png", "--style", tiny_model)
    assert "out of memory" in line and "--max-side" in line and "internal error" not in line


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="no /proc here")
def test_writing_into_proc_says_it_takes_no_files(work, tiny_model):
    line = image_fails(work, [work / "in.png"], Path("/proc/q.jpg"), "--style", tiny_model)
    assert "does not accept new files" in line and "No such file" not in line, line


# -- the model contract: the output has the input's size -------------------------------------------
def half_size_model() -> bytes:
    """Follows the signature (uint8 [1, H, W, 3] in and out) but returns every second pixel."""
    from onnx import helper, numpy_helper

    x = helper.make_tensor_value_info("input", TensorProto.UINT8, [1, "h", "w", 3])
    y = helper.make_tensor_value_info("output", TensorProto.UINT8, [1, "oh", "ow", 3])
    consts = {"starts": [0, 0], "ends": [1 << 30, 1 << 30], "axes": [1, 2], "steps": [2, 2]}
    inits = [numpy_helper.from_array(np.array(v, np.int64), k) for k, v in consts.items()]
    node = helper.make_node("Slice", ["input", "starts", "ends", "axes", "steps"], ["output"])
    model = helper.make_model(helper.make_graph([node], "half", [x], [y], inits),
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    return model.SerializeToString()


def test_a_model_that_changes_the_size_is_refused_at_import_and_load(work, model_home):
    bad = work / "half.onnx"
    bad.write_bytes(half_size_model())
    before = _registry_files(model_home)
    res = invoke("models", "import", bad, "--name", "half", "--format", "onnx")
    assert_error(res, "turns a 80x48 frame into 40x24", "input's size")  # was: "signature checked"
    assert _registry_files(model_home) == before
    image_fails(work, [work / "in.png"], work / "out" / "x.png", "--style", bad, fragments=("40x24",))


def test_the_engine_refuses_a_wrong_size_output_on_any_provider(tiny_model):
    from realtime_style.engine import InferenceOptions, StyleEngine
    from realtime_style.errors import ModelError

    engine = StyleEngine(tiny_model, InferenceOptions(provider="cpu"))
    engine.infer = lambda batch: batch[:, ::2, ::2]  # what a GPU session of a bad model would return
    with pytest.raises(ModelError, match="must return its input's size"):
        engine.stylize(np.zeros((32, 48, 3), np.uint8))


# -- output for logs and pipes ---------------------------------------------------------------------
def test_progress_in_a_pipe_is_a_line_every_few_seconds():
    from realtime_style.cli import LineProgress

    now = [0.0]
    progress = LineProgress(interval_s=10.0, clock=lambda: now[0])
    lines = []
    import realtime_style.cli as cli

    old, cli._err = cli._err, lines.append
    try:
        task = progress.add_task("converting frames", total=240)
        for _ in range(240):
            now[0] += 0.125  # 8 frames a second, 30 s in all
            progress.advance(task)
    finally:
        cli._err = old
    assert len(lines) == 2, lines  # at 10 s and 20 s
    assert lines[0] == "converting frames: 80 of 240 (33 %), 8.0/s, about 20 s left", lines


def test_eval_prints_a_short_summary_and_the_pairs_on_request(tmp_path, tiny_model, model_home):
    from clips import make_clip

    clip = tmp_path / "c.mp4"
    make_clip(clip, frames=12)
    res = invoke("eval", clip, "--style", tiny_model, "--provider", "cpu")
    ok(res)
    out = res.stdout.splitlines()
    assert len(out) <= 6 and "11 frame pairs" in out[0] and "floor" in res.stdout and "smoothed" in res.stdout, out
    res = invoke("eval", clip, "--style", tiny_model, "--provider", "cpu", "--per-pair")
    ok(res)
    assert len(res.stdout.splitlines()) >= 11 + 2
