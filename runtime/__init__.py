"""runtime: executes a layerswap manifest (DIR/manifest.json) on a Jetson or a host.

This package ships to the device alone, so it imports nothing else of layerswap
(``profiles``, ``solvers``, ``export``, ``optimizer``): only the standard library and
third-party packages (``jsonschema`` for the manifest, ``onnxruntime`` / ``tensorrt`` in
the backends). The manifest format is defined by ``runtime/manifest.schema.json`` (JSON
Schema draft 2020-12, ``format: layerswap-manifest``, ``version: 1``) and loaded by
`runtime.manifest.load_manifest`, which validates the schema and then the semantics
(files, digests, hand-offs, device orders). Errors are `runtime.errors.ManifestError`.
"""
