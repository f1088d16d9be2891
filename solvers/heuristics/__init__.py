"""Schedules without proofs: the published baselines (`baselines`) and the simulator-judged
local search that improves a backend's answer under contention (`local_search`)."""
