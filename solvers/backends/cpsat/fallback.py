"""CP-SAT backend, GPU fallback family (docs/model.md section 2.1).

A mixin of `CpSatModel`. With fallback the model's slots are the *executed pieces*: a job
whose model has GPU fallback may use up to `Problem.max_segments` slots, and what
``max_transitions`` bounds is its *switches*, not its hops:

    switches = used slots - fallback pieces - merges - 1 <= T

- ``fallback[k]`` may be true only for a used GPU slot that lies inside one maximal run of
  refused groups (the same ``reach`` test as eligibility, over the refused runs) and has a
  neighbour slot (slot ``k > 0``, or slot 1 used);
- ``merge[k]`` may be true only for a fallback slot whose two neighbours are used and on
  the same DLA core.

Both are only allowed, never forced: the solver sets them where they help, so the count is
at least the true `solvers.model.schedule.switches` of the extracted pieces, and any set
of pieces whose switches fit has an assignment that fits. Jobs without fallback keep
``T + 1`` slots (the slots past it are unused).
"""

from __future__ import annotations

from typing import Any


class FallbackConstraints:
    """The GPU fallback constraint family of `CpSatModel`."""

    # attributes provided by CpSatModel
    m: Any
    slots: list[list[Any]]
    problem: Any
    dlas: tuple[Any, ...]

    def _fallback(self) -> None:
        m, p = self.m, self.problem
        limit = p.max_transitions + 1
        for j, row in enumerate(self.slots):
            if not p.gpu_fallback(j):
                for s in row[limit:]:
                    m.add(s.used == 0)
                continue
            n = p.n_groups(j)
            # reach[a]: exclusive end of the refused run containing group a (a if not refused)
            reach = []
            for a in range(n + 1):
                b = a
                while b < n and p.refused(j, b):
                    b += 1
                reach.append(b)
            counted = []
            for k, s in enumerate(row):
                gpu = s.is_kind["gpu"]
                if isinstance(gpu, int) or len(row) == 1:
                    counted.append(s.used)
                    continue
                piece = m.new_bool_var(f"{s.name}_fallback")
                m.add_implication(piece, gpu)
                if k == 0:
                    m.add(s.cut <= reach[0]).only_enforce_if(piece)
                    m.add_implication(piece, row[1].used)
                else:
                    r = m.new_int_var(0, n, f"{s.name}_refused_reach")
                    m.add_element(row[k - 1].cut, reach, r)
                    m.add(s.cut <= r).only_enforce_if(piece)
                terms = [s.used, -piece]
                if 0 < k < len(row) - 1 and self.dlas:
                    nxt, prev = row[k + 1], row[k - 1]
                    merge = m.new_bool_var(f"{s.name}_fallback_merge")
                    m.add_implication(merge, piece)
                    m.add_implication(merge, nxt.used)
                    for d in self.dlas:
                        m.add_bool_or([merge.Not(), prev.on[d].Not(), nxt.on[d]])
                        m.add_bool_or([merge.Not(), nxt.on[d].Not(), prev.on[d]])
                    m.add_implication(merge, prev.is_kind["dla"])
                    terms.append(-merge)
                counted.append(sum(terms))
            m.add(sum(counted) <= limit)

    def _fallback_windows(self, period: Any) -> None:
        """Throughput, redundant (exact: implied by the device windows and the precedences):
        two pieces ``k1 < k2`` of one fallback job on one device lie in that device's round
        window, so ``period >= the chain from k1's start to k2's end`` (the bases and
        transitions in between). With fallback a job's DLA pieces are separated by GPU
        pieces and DLA->GPU hops; these constraints let a chosen pair of devices bound the
        period at once (measured in FALLBACK_WORKERS' docstring)."""
        m, p = self.m, self.problem
        for j, row in enumerate(self.slots):
            if not p.gpu_fallback(j):
                continue
            for k1 in range(len(row)):
                for k2 in range(k1 + 2, len(row)):  # consecutive pieces differ in device
                    chain = sum(row[i].duration for i in range(k1, k2 + 1)) + sum(
                        row[i].trans_out for i in range(k1, k2))
                    for d in self.devices:
                        m.add(period >= chain).only_enforce_if([row[k1].on[d],
                                                                row[k2].on[d]])
