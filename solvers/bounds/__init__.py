"""Lower bounds: loads, chains and the contention LPs (`lower`), the two-job
segmentation-pair bound (`pair`), and the explanation of infeasible problems (`diagnose`)."""
