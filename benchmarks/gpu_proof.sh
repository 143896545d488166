#!/usr/bin/env bash
# The GPU proof on a lent GPU machine (issue 20; the call plan is in benchmarks/RESULTS.md).
#
#   bash benchmarks/gpu_proof.sh --stage   # a staging call: keep what this call carried, nothing else
#   bash benchmarks/gpu_proof.sh [ARGS]    # stage, install, then benchmarks/gpu_proof.py ARGS into $OUT
#
# Staging copies the carried pieces to /tmp/ortgpu/ (they outlive the call while the machine
# stays warm): .ortgpu/part_* and .ortgpu/WHEEL_NAME (../shared/tools/ort-gpu-parts.sh) and any
# .whl/*.whl (PyAV, which that image lacks). The proof call joins the parts into the wheel,
# installs every wheel with pip --target /tmp/ortsite (the parts script's header), imports
# torch first (its CUDA 13 and cuDNN libraries, which that onnxruntime-gpu build needs) and
# runs the proof with its deadline counted from this script's start. An install that fails is
# logged and the proof still runs (on the image's CPU onnxruntime), so a JSON always comes back.
set -uo pipefail
started=$(date +%s)
out=${OUT:-/tmp/gpu_proof_out}
mkdir -p "$out" /tmp/ortgpu
log="$out/gpu_proof.log"
say() { echo "[gpu_proof.sh] $*" | tee -a "$log"; }

for f in .ortgpu/part_* .ortgpu/WHEEL_NAME .whl/*.whl; do
  [ -f "$f" ] && cp -f "$f" /tmp/ortgpu/
done
say "staged in /tmp/ortgpu: $(cd /tmp/ortgpu && ls | tr '\n' ' ')"
if [ "${1:-}" = "--stage" ]; then
  nvidia-smi -L 2>&1 | head -2
  exit 0
fi

install="ok"
if [ -f /tmp/ortsite/.gpu_proof_installed ]; then  # a rerun on the same warm machine
  install="ok (installed by an earlier call)"
elif [ -f /tmp/ortgpu/WHEEL_NAME ] && ls /tmp/ortgpu/part_* >/dev/null 2>&1; then
  wheel=/tmp/ortgpu/$(cat /tmp/ortgpu/WHEEL_NAME)
  [ -f "$wheel" ] || cat /tmp/ortgpu/part_* > "$wheel"
else
  install="failed: no ORT GPU wheel parts under /tmp/ortgpu"
fi
if [ "$install" = ok ]; then
  wheels=$(ls /tmp/ortgpu/*.whl | tr '\n' ' ')
  if python3 -m pip install -q --no-deps --no-index --no-compile --no-cache-dir --upgrade \
      --target /tmp/ortsite $wheels >>"$log" 2>&1; then
    touch /tmp/ortsite/.gpu_proof_installed
  else
    install="failed: pip install of $wheels (see the log)"
  fi
fi
say "install: $install ($(( $(date +%s) - started )) s)"

# realtime_style from this tree; realtime_style_export (the folder export/) under its import name
mkdir -p /tmp/rsx && ln -sfn "$PWD/export" /tmp/rsx/realtime_style_export
export PYTHONPATH="/tmp/ortsite:$PWD:/tmp/rsx${PYTHONPATH:+:$PYTHONPATH}"
export GPU_PROOF_INSTALL="$install" PYTHONUNBUFFERED=1
python3 -c "import torch, onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())" \
  2>&1 | tee -a "$log"
exec python3 benchmarks/gpu_proof.py --preload-torch --started "$started" --out "$out" "$@"
