"""CP-SAT backend, contention family: each slot's loss rate read from its group span, one
loss x overlap product per ordered slot pair, and semi-active starts (docs/model.md
section 6). A mixin of `CpSatModel`: it reads the model's slots and adds its constraints."""

from __future__ import annotations

from typing import Any

from solvers.backends.cpsat.params import (
    CONTENTION_SCALE,
    KINDS,
    SPAN_LIMIT,
)
from solvers.backends.cpsat.slots import _Read, _Slot


class ContentionConstraints:
    """The contention constraint family of `CpSatModel` (latency with contention)."""

    # attributes provided by CpSatModel
    m: Any
    slots: list[list[Any]]

    def _contention(self) -> None:
        """end - start = base + sum_j k(i, j) * overlap(i, j) (within a few ns of rounding).

        ``k(i, j)`` is the loss curve for i's device kind at the demand of j's own groups on
        j's device kind (`Problem.loss_rate`, segment level): a table over j's group span
        ``(previous cut, cut)`` read by `_loss_reads`. Where that table is one value on
        every span j can take, ``k * overlap`` is linear in the overlap split by kind pair;
        otherwise one product ``L(i, j) * overlap`` per ordered pair, ``L`` the read for the
        pair's kinds, bracketed by the table's least and largest value per kind pair (a
        redundant linear envelope for the LP, which does not see products)."""
        m = self.m
        flat = [s for row in self.slots for s in row]
        extra: dict[int, list[Any]] = {id(s): [] for s in flat}
        n_others = {id(s): 0 for s in flat}
        kinds = [kind for kind in KINDS if any(d.kind == kind for d in self.devices)]
        reads = {id(s): self._loss_reads(s, kinds) for s in flat}
        for a_i, a in enumerate(flat):
            for b in flat[a_i + 1:]:
                if a.job == b.job:
                    continue
                lo = m.new_int_var(0, self.horizon, f"{a.name}_{b.name}_min_end")
                hi = m.new_int_var(0, self.horizon, f"{a.name}_{b.name}_max_start")
                m.add_min_equality(lo, [a.end, b.end])
                m.add_max_equality(hi, [a.start, b.start])
                overlap = m.new_int_var(0, self.horizon, f"{a.name}_{b.name}_overlap")
                m.add_max_equality(overlap, [0, lo - hi])
                parts = []
                # per direction (victim, aggressor): (both flag, part, aggressor's read)
                charged: dict[int, list[tuple[Any, Any, Any]]] = {id(a): [], id(b): []}
                for ka in kinds:
                    for kb in kinds:
                        fa, fb = a.is_kind[ka], b.is_kind[kb]
                        if isinstance(fa, int) or isinstance(fb, int):
                            continue
                        if ka == kb == "gpu":
                            continue  # the same device: NoOverlap makes the overlap 0
                        both = m.new_bool_var(f"{a.name}_{ka}_{b.name}_{kb}")
                        m.add_bool_and([fa, fb]).only_enforce_if(both)
                        m.add_bool_or([fa.Not(), fb.Not(), both])
                        part = m.new_int_var(0, self.horizon,
                                             f"{a.name}_{ka}_{b.name}_{kb}_overlap")
                        m.add(part == 0).only_enforce_if(both.Not())
                        parts.append(part)
                        charged[id(a)].append((both, part, reads[id(b)][(ka, kb)]))
                        charged[id(b)].append((both, part, reads[id(a)][(kb, ka)]))
                m.add(overlap == sum(parts))
                for victim, aggressor in ((a, b), (b, a)):
                    extra[id(victim)].extend(
                        self._charge(victim, aggressor, charged[id(victim)]))
                self.job_overlaps.setdefault(a.job, []).append(overlap)
                self.job_overlaps.setdefault(b.job, []).append(overlap)
                n_others[id(a)] += 1
                n_others[id(b)] += 1
        tol_max = 0
        for s in flat:
            tol = 1 + n_others[id(s)]
            tol_max = max(tol_max, tol)
            scaled = CONTENTION_SCALE * (s.duration - s.base) - sum(extra[id(s)])
            m.add(scaled >= -tol * CONTENTION_SCALE)
            m.add(scaled <= tol * CONTENTION_SCALE)
            m.add(s.duration >= s.base)
        self.contention_tol_units = tol_max

    def _charge(self, victim: _Slot, aggressor: _Slot,
                charged: list[tuple[Any, Any, Any]]) -> list[Any]:
        """Terms (loss x CONTENTION_SCALE x overlap) charged to ``victim`` for overlapping
        ``aggressor``: ``charged`` lists (both kinds chosen, that kind pair's overlap part,
        the aggressor's read for it). Constant reads are linear in their part; the others
        share one product with the sum of their parts (one kind pair is chosen at most)."""
        m = self.m
        terms: list[Any] = []
        varying = []
        for both, part, read in charged:
            if not isinstance(read, _Read):
                if read > 0:
                    terms.append(read * part)
            else:
                varying.append((both, part, read))
        if not varying:
            return terms
        name = f"{victim.name}_by_{aggressor.name}"
        lo = min(read.low for _, _, read in varying)
        hi = max(read.high for _, _, read in varying)
        rate = m.new_int_var(lo, hi, f"{name}_loss")
        for both, _, read in varying:
            m.add(rate == read.var).only_enforce_if(both)
        if len(varying) == 1:
            overlap = varying[0][1]
        else:
            overlap = m.new_int_var(0, self.horizon, f"{name}_varying_overlap")
            m.add(overlap == sum(part for _, part, _ in varying))
        product = m.new_int_var(0, hi * self.horizon, f"{name}_loss_x_overlap")
        m.add_multiplication_equality(product, [rate, overlap])
        # redundant envelope for the LP: the read lies within its table's range
        m.add(product >= sum(read.low * part for _, part, read in varying))
        m.add(product <= sum(read.high * part for _, part, read in varying))
        terms.append(product)
        return terms

    def _loss_reads(self, s: _Slot, kinds: list[str]) -> dict[tuple[str, str], Any]:
        """Per (victim kind, kind of ``s``): round(loss x CONTENTION_SCALE) that ``s``
        inflicts on a victim of that kind, at the demand of its own groups
        ``[previous cut, cut)`` (`Problem.segment_bandwidth`). An int where that value is
        the same on every span ``s`` may take on its kind; else a `_Read` whose variable
        is fixed by the span (an element on the free end of the first and last slot, span
        Booleans for a middle slot). Spans ``s`` cannot take on a kind, and empty spans
        (unused slots, no overlap), read an arbitrary value of the table. A middle slot with
        more than `SPAN_LIMIT` spans only bounds its reads (`relaxed_contention`)."""
        m = self.m
        row = self.slots[s.job]
        g_count = self.jobs[s.job].n_groups
        firsts = [0] if s.k == 0 else range(g_count + 1)
        cuts = [g_count] if s.k == self.n_slots - 1 else range(g_count + 1)
        middle = 0 < s.k < self.n_slots - 1
        if middle and (g_count + 1) * (g_count + 2) // 2 > SPAN_LIMIT:
            # too many spans to encode: the reads are only bounded (a relaxation: every
            # schedule keeps its true value, so the model's optimum is a lower bound)
            out: dict[tuple[str, str], Any] = {}
            for kv, kb in self._kind_pairs(kinds):
                low, high = self._loss_range(s.job, kv, kb)
                out[(kv, kb)] = low if low == high else _Read(
                    m.new_int_var(low, high, f"{s.name}_loss_{kv}_by_{kb}"), low, high)
            if any(isinstance(r, _Read) for r in out.values()):
                self.relaxed_contention = True
            return out
        spans = [(f, c) for f in firsts for c in cuts if f <= c]
        out = {}
        columns: list[tuple[Any, dict[tuple[int, int], int]]] = []
        for kv, kb in self._kind_pairs(kinds):
            table = {span: self._loss_value(s.job, kv, kb, *span) for span in spans}
            possible = {v for v in table.values() if v is not None}
            if not possible:
                out[(kv, kb)] = 0
                continue
            if len(possible) == 1:
                out[(kv, kb)] = possible.pop()
                continue
            low, high = min(possible), max(possible)
            var = m.new_int_var(low, high, f"{s.name}_loss_{kv}_by_{kb}")
            out[(kv, kb)] = _Read(var, low, high)
            columns.append((var, {span: low if v is None else v for span, v in table.items()}))
        if not columns:
            return out
        if not middle:
            # one free end: an element on it (its other end is 0 or the group count)
            key = s.cut if s.k == 0 else row[s.k - 1].cut
            at = 1 if s.k == 0 else 0   # the free end's place in (first, cut)
            for var, values in columns:
                arr = [min(values.values())] * (g_count + 1)
                for span, v in values.items():
                    arr[span[at]] = v
                m.add_element(key, arr, var)
            return out
        # both ends free: one Boolean per span, channelled to both cuts' values, each fixing
        # the reads. Measured on 2 x 60 groups: CP-SAT's table constraint (it encodes every
        # value of every read), an element on a flattened index, or each read as one linear
        # sum over the spans all kept its presolve busy for 30-60 s; this form takes ~2 s
        # with presolve probing off (`PROBING_WITH_SPAN_TABLES`).
        first, cut = row[s.k - 1].cut, s.cut
        pick = {span: m.new_bool_var(f"{s.name}_span_{span[0]}_{span[1]}") for span in spans}
        m.add_exactly_one(pick.values())
        for end, at in ((first, 0), (cut, 1)):
            for v in range(g_count + 1):
                lits = [lit for span, lit in pick.items() if span[at] == v]
                is_v = m.new_bool_var(f"{s.name}_{'first' if at == 0 else 'cut'}_is_{v}")
                m.add(end == v).only_enforce_if(is_v)
                m.add(end != v).only_enforce_if(is_v.Not())
                m.add(sum(lits) == is_v)
        for var, values in columns:
            for span, lit in pick.items():
                m.add(var == values[span]).only_enforce_if(lit)
        self.span_tables = True
        return out

    @staticmethod
    def _kind_pairs(kinds: list[str]) -> list[tuple[str, str]]:
        """(victim kind, aggressor kind) pairs that can overlap (two GPU slots cannot)."""
        return [(kv, kb) for kb in kinds for kv in kinds if not kv == kb == "gpu"]

    def _loss_value(self, j: int, kv: str, kb: str, first: int, cut: int) -> int | None:
        """round(loss x CONTENTION_SCALE) inflicted on a ``kv`` victim by groups
        ``[first, cut)`` of job ``j`` on kind ``kb``; None for an empty span or one with a
        group that may not run on ``kb``."""
        if first >= cut or self._blocked(j, kb)[cut] > self._blocked(j, kb)[first]:
            return None
        p = self.problem
        loss = p.contention.loss_rate(kv, p.segment_bandwidth(j, first, cut - 1, kb))
        return round(loss * CONTENTION_SCALE)

    def _blocked(self, j: int, kb: str) -> list[int]:
        """Prefix counts of job ``j``'s groups that may not run on any ``kb`` device."""
        key = (j, kb)
        if key not in self.blocked:
            acc = [0]
            for allowed in self.jobs[j].allowed:
                acc.append(acc[-1] + (not any(d.kind == kb for d in allowed)))
            self.blocked[key] = acc
        return self.blocked[key]

    def _loss_range(self, j: int, kv: str, kb: str) -> tuple[int, int]:
        """Least and largest `_loss_value` over every span of job ``j`` (O(groups)): a
        span's demand is a time-weighted mean of its groups' demands (0 for a span with no
        timed demand), so it lies between the least and the largest; the loss curve is
        non-decreasing (else the whole range 0..k_max)."""
        p = self.problem
        curve = p.contention.gpu if kv == "gpu" else p.contention.dla
        if not curve.is_non_decreasing:
            return 0, round(p.contention.k_max * CONTENTION_SCALE)
        demands, zero = [], False
        for row, allowed in zip(p.table(j).rows, self.jobs[j].allowed, strict=True):
            if not any(d.kind == kb for d in allowed):
                continue
            t = row.gpu_ms if kb == "gpu" else row.dla_ms
            bw = row.gpu_bw_gbps if kb == "gpu" else row.dla_bw_gbps
            if t is None or t <= 0 or bw is None:
                zero = True
            else:
                demands.append(float(bw))
        low_bw = 0.0 if zero or not demands else min(demands)
        high_bw = max(demands, default=0.0)
        return tuple(round(p.contention.loss_rate(kv, bw) * CONTENTION_SCALE)
                     for bw in (low_bw, high_bw))  # type: ignore[return-value]

    def _semi_active(self) -> None:
        """Each slot starts at its ready time or exactly at the end of another slot on the
        same device; with NoOverlap that is max(ready, end of its device predecessor)."""
        m = self.m
        flat = [s for row in self.slots for s in row]
        for s in flat:
            at_ready = m.new_bool_var(f"{s.name}_starts_when_ready")
            m.add(s.start == s.ready).only_enforce_if(at_ready)
            choices = [at_ready]
            for o in flat:
                if o is s:
                    continue
                follows = m.new_bool_var(f"{s.name}_follows_{o.name}")
                m.add(s.start == o.end).only_enforce_if(follows)
                m.add_implication(follows, s.used)
                m.add_implication(follows, o.used)
                for d in self.devices:
                    m.add(s.on[d] == o.on[d]).only_enforce_if(follows)
                choices.append(follows)
            m.add_bool_or(choices)
