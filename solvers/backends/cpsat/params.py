"""CP-SAT backend settings: search set-up and numeric limits, each with what measured it."""

THROUGHPUT_BISECT = True
"""Branch on the period by halving its domain first: the default objective search stalls
on the modulo model (a 5-group pair reached the optimum only with this on)."""
LINEARIZATION = 1
"""CP-SAT linearization level for latency (2 was measured: no gain on 2 x 60 / 2 x 250)."""
LINEARIZATION_THROUGHPUT = 2
"""Throughput: with level 1 the search lowered the period 1 ns per solution (idle time in
the modulo offsets is removed one unit at a time), 2 x 30 with one worker ended at 7.72 ms
after 60 s; level 2 puts the precedence/no-overlap LP in the loop: optimal 7.4066 ms in
2.4 s."""
MANY_JOBS_WORKERS = ("lb_tree_search", "no_lp")
"""The two full workers for latency without contention from GROUP_VIEW_MIN_JOBS jobs on
with 2 workers (other worker counts keep CP-SAT's portfolio plus ``lb_tree_search``)."""
FEW_JOBS_WORKERS = ("default_lp", "max_lp")
"""The two full workers for 1-2 jobs without contention with 2 workers. Measured against
CP-SAT's own 2-worker choice (seconds to proven optimality, build and canonical phase
included, throughput with LINEARIZATION_THROUGHPUT): throughput 2 x 30 0.8 vs 16-40,
2 x 120 4.8 vs 6.6-12.3, 2 x 250 11.2 vs 11.3-13.1; latency 2 x 120 4.0 vs 5.3, 2 x 250
10.2 vs 12.9, 2 x 30 0.48 vs 0.40-0.50. On 3-4 jobs it was worse (kept out), except with
contention: there the portfolio plus lb_tree_search stalled a few 100 ps units above the
rounding gap limit on tiny 3-job problems (4 found by the oracle property test: 16 of 20
runs hit a 15 s limit; with this pair 20 of 20 proven in < 1 s). On 2-job contention
problems the portfolio stays (the pair was slower: 2 x 60 24 s vs 15 s, measured under the
earlier model-mean contention term; with the segment-level term neither proves 2 x 60 within
40 s and on 2 x 30 they are within noise, 21 vs 24 s)."""
FALLBACK_WORKERS = ("lb_tree_search", "max_lp")
"""The two full workers for throughput with GPU fallback (1-2 jobs, 2 workers): with
fallback a job has up to T + 1 + 2 per refused run slots and the proof is combinatorial
(the LP bound stays at the fluid load). Measured on the medical example's GAN + GAN
(benchmarks/results/gpu_fallback.md, T = 1, no hint, 25 s, load ~1.8): FEW_JOBS_WORKERS
proved 4.548436 ms in 19 s (once; feasible at 25 s in other set-ups), this pair in 9.4 s,
and with the chain windows of `FallbackConstraints._fallback_windows` in 4.9 s;
default_lp + no_lp, max_lp + max_lp, core + max_lp, probing + max_lp, max_lp + no_lp and
lb_tree_search + default_lp did not prove it in 25 s."""
SINGLE_WORKER = "one worker (--workers 1)"
"""With one worker CP-SAT runs a single search, and two set-ups were pathological (measured
with 20 s limits on the 2-core box, deterministic time in parentheses): throughput 2 x 30
with the greedy hint ended feasible at 7.43 ms (0.75 dt) where the same worker without the
hint proves 7.4066 ms optimal in 5 s (0.27 dt): the single search follows the hint and its
bound never leaves the load bound; other single-worker branchings (fixed, pseudo-cost, LP,
portfolio) or interleaving the FEW_JOBS_WORKERS pair stalled the same way. So one worker
gets no throughput hint (it is still returned if nothing is found). Latency 3 x 10 without
contention ended feasible with a 7 % gap (both with and without hint) where two workers
(MANY_JOBS_WORKERS) prove it in 3.5 s: one worker now interleaves that same pair in its
thread (``interleave_search``): optimal in 3.6 s (0.09 dt)."""
LINEARIZATION_MANY_JOBS = 2
"""Linearization level for latency without contention from GROUP_VIEW_MIN_JOBS jobs on:
measured on 4 x 30 (2 workers, 30 s), level 2 lifts the proven bound from 13.82 to 13.865 ms
and finds a better incumbent (14.0073-14.0104 vs 14.1568 ms) than level 1 in 40 s."""
GROUP_VIEW_MIN_JOBS = 3
"""Add the redundant group-level LP view from this many jobs on: measured, it lifts the
root bound of 4 x 30 from 8.6 to 13.3 ms (optimum <= 14.0) but slows 2-job cases (2 x 120:
5 s -> 38 s), where the search closes the gap faster without it."""
KINDS = ("gpu", "dla")
PAIRS = (("gpu", "dla"), ("dla", "gpu"), ("dla", "dla"))
CONTENTION_SCALE = 10_000_000
"""Loss rates are scaled to integers by this factor (0.1 ppm) in the contention equation."""
VALUE_LIMIT = 2**50
"""Largest horizon x integer weight in model units (CP-SAT refuses models whose variable
domains or linear expressions may overflow int64: 1e12 ms in ns did); beyond it the
model counts in 10x coarser units (`CpSatModel.__init__`)."""
HORIZON_LIMIT = 2**31 - 1
"""Largest horizon (time-variable domain) in model units. Measured with OR-Tools 9.15: once
the horizon passes 2^31 units, CP-SAT's presolve returns wrong optima as OPTIMAL (found by
the metamorphic test: a 2-job latency problem with one 1939.227 ms group, horizon 2.9e9
ns, answered 2908.86 ms where 1939.267 ms is optimal; the same model without presolve, or
at horizons 2.04e9 / 2.12e9, is right, at 2.15e9 wrong; throughput too). Beyond it the
model counts in 10x coarser units. The weighted makespan of latency is a variable too:
three one-group jobs weighted 2.5 each (integer weights 25 then, domain up to 1.6e10) were
answered 550.5 ms where 391 ms is optimal, right without presolve. So the integer weights
are reduced by their common divisor (equal weights become 1), and a model whose horizon
times the largest integer weight still passes this limit is solved without presolve
(`CpSatModel.presolve`)."""
SPAN_LIMIT = 8_000
"""Most (first, cut) spans a middle slot encodes for its segment-level loss (one Boolean
each; `CpSatModel._loss_reads`). Measured presolve (probing off): 2 x 60 groups (1,891
spans per middle slot) ~2 s, 2 x 120 (7,381) 8.4 s, 2 x 250 (31,626) 22 s after a 5.7 s
build. Beyond it the slot's loss is only bounded by its job's least and largest: the model
is then a relaxation (its optimum a valid lower bound, its schedule judged by the
simulator, status feasible)."""
PROBING_WITH_SPAN_TABLES = 0
"""CP-SAT probing level when a slot reads its contention loss from a (first, cut) span table
(`CpSatModel._loss_reads`). Measured presolve on 2 x 60 groups with contention: 8.5 s at
the default level (three probing rounds of ~2 s over the span Booleans), 10.4 s at 1,
1.8 s at 0; without the span tables (contention at the model mean) it was 1.1 s."""
CONTENTION_PRODUCT_LIMIT = 2**60
"""Largest horizon x CONTENTION_SCALE x co-runners product allowed in 100 ps units (CP-SAT
linear expressions must stay below 2^62); beyond it the model falls back to ns units."""
LATENCY_PAIR = True
"""Latency with contention and two jobs: run `solvers.bounds.latency_pair` (every
segmentation pair bounded, those that pass sequenced exactly) before the model. Measured on
the benchmark's 2 x 60 pair (benchmarks/results/solvers.md): the model alone ended at a
32 % gap after 40 s (its LP sees only an envelope of the loss x overlap products); the pair
search proves 19.460552 ms optimal in 14.2 s at load 15 on the 2-core box. 2 x 250
(2026-12-06, through the sets of segmentations, warmed from the contention-free optimum):
82.155951 ms proven in 41.7 s, where the model ended feasible at 82.25 ms with a 6.4-9.3 %
gap in 120 s. A test turns it off to hold the model itself to the oracle."""
LATENCY_PAIR_SHARE = 0.9
"""The pair search stops at this share of the backend's time limit (then the model gets
the rest, with the best schedule as its hint and the pair search's bound kept)."""
LATENCY_PAIR_WARMUP_SHARE = 0.1
LATENCY_PAIR_WARMUP_EVALUATIONS = 3000
LATENCY_PAIR_WARMUP_KICKS = 10
"""The simulator-guided climb that tightens the incumbent before the pair search (its test
is strongest at a tight incumbent: on 2 x 60 at the greedy hint's 23.98 ms 11.3 M pairs
pass and sequencing them took 338 s; at 19.46 ms, 6,188 pass): at most this share of the
limit, this many simulations, this many perturbations without gain."""
CONTENTION_FREE_SHARE = 0.2
"""Latency with contention: at most this share of the backend's limit goes to the
contention-free model, whose proven bound bounds (and floors) the contention model
(`_contention_free_bound`); 0 turns it off."""
LOSS_MASS_MIN_JOBS = 3
LOSS_MASS_SHARE = 0.1
"""Latency with contention from this many jobs on (two go to the pair search): the
loss-mass bound of `solvers.bounds.loss_mass` (each co-runner group's own loss, summed over
the jobs; one small LP over every job's segmentations), listed within this share of the
backend's limit; 0 turns it off. It bounds and floors the contention model like the
contention-free optimum. Measured on the benchmark's 3 x 30 (benchmarks/results/solvers.md,
2026-12-06): 11.94 ms in ~1 s, where the contention-free optimum gave 10.676 ms."""
LATENCY_TRIPLE_SHARE = 0.85
"""Latency with contention and three jobs: `solvers.bounds.latency_triple` raises its
target from the loss-mass bound (then to `latency_triple.GOAL` of the warmed incumbent)
and sequences the triples that pass exactly, until this share of the backend's limit
(counted from its start); 0 turns it off. 3 x 30 (2026-12-06, load 1-3.5): 12.30 ms
refuted outright, then at 0.951 x 13.278 = 12.628 ms 5,575 triples pass the test and none
sequences below it (~1 s); at load 1 the second target is settled 20.6 s into the 30 s
backend limit (warm-up 3.3 s, first target 3.0 s, second 13.9 s), so 85 % (25.5 s) leaves
some room for load; CP-SAT's model gets the rest (it adds nothing there: its ~1-3 s
search ends far above the warmed hint)."""
LATENCY_TRIPLE_WARMUP_SHARE = 0.15
LATENCY_TRIPLE_WARMUP_EVALUATIONS = 6000
LATENCY_TRIPLE_WARMUP_KICKS = 10
"""The simulator-guided climb that tightens the incumbent before the triple search (its
second target is a share of it): at most this share of the limit, this many simulations,
this many perturbations without gain. 3 x 30 from the greedy 17.06 ms: 14.09 ms after
3,000 simulations (1.4 s), 13.278 after 6,000 (2.9 s); 80,000 stall at 13.278 too."""
LATENCY_CUTS = True
"""Latency without contention, two jobs, at most two switches: run the cut-position branch
and bound of `solvers.bounds.latency_cuts` before the model; its proof is the answer.
Measured on the 2 x 600 benchmark (benchmarks/results/solvers.md, 2026-12-06): 177.5483 ms
proven in 0.74 s (0.4 s of search) where the model alone took 60.1 s at load 3 and 31.9 s
on a quiet box (its presolve of the 601-entry element tables 28-40 s at load 11); 2 x 250
in 0.27 s (model: 17 s). Tests turn it off to hold the model itself to the oracle."""
LATENCY_CUTS_SHARE = 0.5
"""The branch and bound stops at this share of the backend's time limit; the model then
gets the rest, with the best schedule as its hint and the bound as a floor."""
LATENCY_JOBS = True
"""Latency without contention, three or four jobs: run the tuple search of
`solvers.bounds.latency_jobs` before the model (sharing `LATENCY_CUTS_SHARE`); its proof is
the answer. Measured on the 4 x 30 benchmark (benchmarks/results/solvers.md, 2026-12-06):
13.9942 ms proven in 0.82 s (~0.4 s of search), where the model alone ended 14.10 ms /
bound 13.86 ms after 60 s and a 900 s run did not prove it either; 3 x 30 in 2.99 s (the
model alone: 2.92 s). Tests turn it off to hold the model itself to the oracle."""
