"""export: from a schedule to something that runs (ONNX rewrites, splitting, build plans,
manifest, runtime). Arrives with the export issue; nothing here yet."""
