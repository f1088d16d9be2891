"""layerswap runtime: execute an exported manifest on GPU and DLA workers.

Reads only ``DIR/manifest.json`` (Manifest v1) and the files it names, and imports nothing
else of layerswap, so the folder plus this package can be copied to a Jetson alone.
Entry point: `runtime.api.run_manifest`; command line: ``layerswap run``.
"""
