"""Backends behind one interface (`runtime.backends.base.Backend` / `Runner`).

- ``ort`` (`runtime.backends.ort`): ONNX Runtime on the CPU, the default and the only one
  that runs without NVIDIA hardware.
- ``ort-trt`` (`runtime.backends.ort_trt`): ONNX Runtime with the TensorRT execution
  provider; the DLA core comes from the provider options.
- ``trt`` (`runtime.backends.trt`): native TensorRT engines from the build plan, one CUDA
  stream per device, DLA core chosen at deserialisation.

The last two import their packages lazily, inside the code that needs them.
"""
