"""Lower bounds for throughput with contention: `bounds.segment_bound` (one segmentation,
every order) and `pair_bound` (every placement of two jobs) never exceed what the
simulator gives, and `pair_bound` never exceeds the exhaustive oracle's optimum."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from profiles.synthetic import synthetic_table
from solvers.bounds.lower import lower_bound, segment_bound
from solvers.bounds.pair import applies, pair_bound
from solvers.judges.oracle import count_space, job_options
from solvers.model.problem import Pin, Problem
from solvers.solve import solve
from tests.solvers.test_simulator_properties import random_schedule

ORACLE_SPACE = 400
"""Largest oracle space (schedules) the oracle comparison takes on."""
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def throughput_problems(draw: st.DrawFn, *, jobs: tuple[int, int] = (1, 3),
                        max_groups: int = 4) -> Problem:
    """Small throughput problems with the contention preset on GPU + DLA cores."""
    n_jobs = draw(st.integers(*jobs))
    frac = draw(st.sampled_from([0.0, 0.0, 0.3]))
    tables = [synthetic_table(draw(st.integers(1, max_groups)), draw(st.integers(0, 10_000)),
                              model=f"m{i}", ineligible_fraction=frac)
              for i in range(n_jobs)]
    pins = []
    if draw(st.integers(0, 4)) == 0:
        g = draw(st.integers(0, tables[0].n_groups - 1))
        pins.append(Pin.forbid("m0", g, g, [draw(st.sampled_from(["DLA0", "DLA1"]))]))
    frames = draw(st.integers(1, 2)) if n_jobs == 1 else 1
    return Problem.create(tables, draw(st.sampled_from(["xavier-agx", "orin-agx"])),
                          objective="throughput", contention="auto", pins=pins,
                          max_transitions=draw(st.integers(0, 2)), frames_per_round=frames)


@SETTINGS
@given(problem=throughput_problems(), seed=st.integers(0, 10_000))
def test_segment_bound_below_every_simulated_schedule(problem: Problem, seed: int) -> None:
    """Any order of the same segments (a random one here) simulates to at least the bound."""
    schedule = random_schedule(problem, seed)
    from solvers.judges.simulator import simulate

    period = simulate(problem, schedule).objective_ms
    assert segment_bound(problem, schedule.segments) <= period * (1 + 1e-9)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(problem=throughput_problems(jobs=(2, 2), max_groups=3))
def test_pair_bound_below_the_oracle_optimum(problem: Problem) -> None:
    assert applies(problem)
    # the oracle simulates every order of every placement (up to thousands of rounds each
    # with contention): keep its space small
    assume(count_space(problem) <= ORACLE_SPACE)
    oracle = solve(problem, "exhaustive", time_limit=None, hint=None)
    assert oracle.objective is not None
    # any target is valid; the optimum itself and a looser one
    for target in (oracle.objective, oracle.objective * 1.5):
        found = pair_bound(problem, target)
        assert found is not None
        assert found.bound_ms <= oracle.objective * (1 + 1e-9)
        assert found.bound_ms <= target


def test_pair_bound_counts_every_pair() -> None:
    tables = [synthetic_table(4, s, model=f"m{s}") for s in (1, 2)]
    problem = Problem.create(tables, "xavier-agx", objective="throughput")
    found = pair_bound(problem, 100.0)
    assert found is not None
    assert found.pairs == len(job_options(problem, 0)) * len(job_options(problem, 1))
    assert found.complete


def test_pair_bound_does_not_apply_without_contention_or_with_three_jobs() -> None:
    tables = [synthetic_table(3, s, model=f"m{s}") for s in (1, 2, 3)]
    assert not applies(Problem.create(tables[:2], "xavier-agx", objective="throughput",
                                      contention="none"))
    assert not applies(Problem.create(tables, "xavier-agx", objective="throughput"))
    assert not applies(Problem.create(tables[:2], "xavier-agx", objective="latency"))
    assert pair_bound(Problem.create(tables, "xavier-agx", objective="throughput"),
                      10.0) is None


def test_segment_bound_is_a_throughput_bound() -> None:
    problem = Problem.create([synthetic_table(3, 1)], "xavier-agx", objective="latency")
    with pytest.raises(ValueError):
        segment_bound(problem, (job_options(problem, 0)[0].segments,))


def test_solve_reports_the_pair_bound() -> None:
    # 2 x 3 groups (test_local_search): the oracle's optimum is 0.9203 ms, the
    # contention-free bound far below it; the pair bound is within 0.2 % of it
    tables = [synthetic_table(3, s, model=f"synth{s}") for s in (1, 2)]
    problem = Problem.create(tables, "xavier-agx", objective="throughput")
    result = solve(problem, "cpsat", time_limit=20)
    assert result.stats["pair_bound"]["finished"]
    assert "pair_bound_s" in result.stats["phases_s"]
    assert result.lower_bound is not None and result.objective is not None
    assert result.lower_bound == pytest.approx(result.stats["pair_bound"]["bound_ms"])
    assert lower_bound(problem) < result.lower_bound <= result.objective
    assert result.objective == pytest.approx(0.920349, rel=1e-5)
    assert result.lower_bound >= 0.998 * result.objective


def test_pair_bound_cut_by_its_deadline_gives_no_bound() -> None:
    tables = [synthetic_table(4, s, model=f"m{s}") for s in (1, 2)]
    problem = Problem.create(tables, "xavier-agx", objective="throughput")
    found = pair_bound(problem, 100.0, deadline=0.0)   # long past
    assert found is not None and found.bound_ms is None and not found.complete


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=throughput_problems(jobs=(2, 2), max_groups=5))
def test_job_options_caches_nothing_wrong(problem: Problem) -> None:
    """The segmentations the pair bound enumerates (oracle.job_options, costs cached per
    span): each distinct, each valid, with the problem's own costs and transitions, and as
    many as the pair bound's count when every group may run everywhere."""
    from solvers.bounds.pair import _count

    for j in range(2):
        options = job_options(problem, j)
        assert len({o.segments for o in options}) == len(options)
        for o in options:
            assert o.base == tuple(problem.segment_cost(j, s.first_group, s.last_group,
                                                        s.device) for s in o.segments)
            assert o.tr_in == tuple(0.0 if k == 0 else problem.transition(
                j, o.segments[k - 1].last_group, o.segments[k - 1].device, s.device)
                for k, s in enumerate(o.segments))
        if all(set(problem.allowed(j, g)) == set(problem.devices)
               for g in range(problem.n_groups(j))):
            assert len(options) == _count(problem, j)
