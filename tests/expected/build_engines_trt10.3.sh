#!/usr/bin/env bash
# layerswap engine builds: 5 engine(s) for TensorRT 10.3 (fp16); the runtime reads manifest.json.
# Run on the target (a Jetson) from any directory; override the binary with
# TRTEXEC=/usr/src/tensorrt/bin/trtexec. Each build writes engines/<name>.build.log.
# DLA engines are built without --allowGPUFallback: a layer the DLA cannot run fails the build instead of moving to the GPU.
set -euo pipefail
cd "$(dirname "$0")"
TRTEXEC="${TRTEXEC:-trtexec}"
mkdir -p engines
build() {  # build LOG CMD...: run, keep the log, say where to look on failure
  local log="$1"; shift
  if ! "$@" > "$log" 2>&1; then
    echo "layerswap: engine build failed; see $log" >&2; tail -n 20 "$log" >&2
    exit 1
  fi
}

# [1/5] unet#0/0 on GPU (fp16)
echo '[1/5] engines/unet.g0-1.GPU.plan (GPU)' >&2
build engines/unet.g0-1.GPU.build.log "$TRTEXEC" --onnx=segments/unet.g0-1.onnx --saveEngine=engines/unet.g0-1.GPU.plan --fp16 --inputIOFormats=fp32:chw --outputIOFormats=fp16:chw,fp16:chw16,fp16:chw16 --skipInference

# [2/5] unet#0/1 on DLA0 (fp16)
echo '[2/5] engines/unet.g2-3.DLA0.plan (DLA0)' >&2
build engines/unet.g2-3.DLA0.build.log "$TRTEXEC" --onnx=segments/unet.g2-3.onnx --saveEngine=engines/unet.g2-3.DLA0.plan --fp16 --useDLACore=0 --inputIOFormats=fp16:chw16,fp16:chw16 --outputIOFormats=fp16:chw16 --skipInference

# [3/5] unet#0/2 on GPU (fp16)
echo '[3/5] engines/unet.g4-4.GPU.plan (GPU)' >&2
build engines/unet.g4-4.GPU.build.log "$TRTEXEC" --onnx=segments/unet.g4-4.onnx --saveEngine=engines/unet.g4-4.GPU.plan --fp16 --inputIOFormats=fp16:chw16,fp16:chw --outputIOFormats=fp32:chw --skipInference

# [4/5] diamond#0/0 on DLA1 (fp16)
echo '[4/5] engines/diamond.g0-0.DLA1.plan (DLA1)' >&2
build engines/diamond.g0-0.DLA1.build.log "$TRTEXEC" --onnx=segments/diamond.g0-0.onnx --saveEngine=engines/diamond.g0-0.DLA1.plan --fp16 --useDLACore=1 --inputIOFormats=fp16:chw16 --outputIOFormats=fp16:chw16,fp16:chw16 --skipInference

# [5/5] diamond#0/1 on GPU (fp16)
echo '[5/5] engines/diamond.g1-2.GPU.plan (GPU)' >&2
build engines/diamond.g1-2.GPU.build.log "$TRTEXEC" --onnx=segments/diamond.g1-2.onnx --saveEngine=engines/diamond.g1-2.GPU.plan --fp16 --inputIOFormats=fp16:chw16,fp16:chw16 --outputIOFormats=fp32:chw --skipInference

echo 'built 5 engine(s) in engines/' >&2
