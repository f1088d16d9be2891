"""optimizer: the face of layerswap (CLI, pipeline, reports, plots, notebook API)."""
