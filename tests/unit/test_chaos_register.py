"""The object checkers: per-key register linearizability, lost writes, torn bodies."""

from __future__ import annotations

from dataclasses import replace
from itertools import permutations

from engine.chaos.checkers import register
from engine.chaos.checkers.linearizability import search
from engine.chaos.checkers.register import RegisterModel
from tests.unit.helpers_chaos import History


def verdict(h: History) -> str:
    return register.check(h.ops).verdicts["k"]


def only_anomaly(h: History):
    anomalies = register.check(h.ops).anomalies
    assert len(anomalies) == 1, anomalies
    return anomalies[0]


def indices(anomaly) -> list[int]:
    return [op.index for op in anomaly.excerpt]


def test_sequential_history_is_linearizable():
    h = History()
    h.read("k", None, at=(0, 1))
    h.write("k", "a", at=(2, 3))
    h.read("k", "a", at=(4, 5))
    h.op("delete", "k", at=(6, 7))
    h.read("k", None, at=(8, 9))
    assert verdict(h) == "linearizable"
    assert register.check(h.ops).anomalies == []


def test_read_of_a_value_never_written_is_an_anomaly():
    h = History()
    h.write("k", "a", at=(0, 1))
    h.read("k", "zzz", at=(2, 3))
    kinds = sorted(a.kind for a in register.check(h.ops).anomalies)
    assert kinds == ["nonlinearizable", "torn-body"]
    lin = next(a for a in register.check(h.ops).anomalies if a.kind == "nonlinearizable")
    assert "no write produced" in lin.message
    assert indices(lin) == [0, 1]


def test_stale_read_after_a_completed_write_is_an_anomaly():
    h = History()
    h.write("k", "a", at=(0, 1))
    h.write("k", "b", at=(2, 3))
    h.read("k", "a", at=(4, 5))
    h.write("k", "c", at=(6, 7))  # after the stale read: not part of the excerpt
    anomaly = only_anomaly(h)
    assert anomaly.kind == "nonlinearizable"
    assert "read 2 returning 'a'" in anomaly.message
    assert indices(anomaly) == [0, 1, 2]  # the write it saw, the one it missed, the read


def test_concurrent_writes_may_be_seen_in_either_order():
    for first, second in (("a", "b"), ("b", "a")):
        h = History()
        h.write("k", "a", at=(0, 10))
        h.write("k", "b", at=(1, 9))
        h.read("k", first, at=(2, 3))
        h.read("k", second, at=(11, 12))
        assert verdict(h) == "linearizable"


def test_reads_that_flip_back_are_an_anomaly():
    h = History()
    h.write("k", "a", at=(0, 10))
    h.write("k", "b", at=(1, 9))
    h.read("k", "a", at=(11, 12))
    h.read("k", "b", at=(13, 14))
    h.read("k", "a", at=(15, 16))
    anomaly = only_anomaly(h)
    assert anomaly.kind == "nonlinearizable"
    assert anomaly.excerpt[-1].index in (3, 4)


def test_info_write_may_be_seen_later_or_never():
    seen = History()
    seen.write("k", "a", at=(0, 1))
    seen.write("k", "b", at=(2, None), type="info")
    seen.read("k", "a", at=(3, 4))
    seen.read("k", "b", at=(50, 51))
    assert verdict(seen) == "linearizable"
    never = History()
    never.write("k", "a", at=(0, 1))
    never.write("k", "b", at=(2, 3), type="info")
    never.read("k", "a", at=(50, 51))
    assert verdict(never) == "linearizable"


def test_info_write_seen_then_unseen_is_an_anomaly():
    h = History()
    h.write("k", "a", at=(0, 1))
    h.write("k", "b", at=(2, None), type="info")
    h.read("k", "b", at=(3, 4))
    h.read("k", "a", at=(5, 6))
    assert only_anomaly(h).kind == "nonlinearizable"


def test_failed_write_seen_is_an_anomaly():
    h = History()
    h.write("k", "a", at=(0, 1))
    failed = h.write("k", "b", at=(2, 3), type="fail", error="PreconditionFailed")
    h.read("k", "b", at=(4, 5))
    anomaly = only_anomaly(h)
    assert anomaly.kind == "nonlinearizable"
    assert "a write that failed" in anomaly.message
    assert failed in anomaly.excerpt


def test_info_reads_constrain_nothing():
    h = History()
    h.write("k", "a", at=(0, 1))
    h.read("k", None, at=(2, None), type="info")
    h.read("k", "a", at=(3, 4))
    assert verdict(h) == "linearizable"


def test_keys_are_checked_independently():
    h = History()
    h.write("k", "a", at=(0, 1))
    h.write("other", "x", at=(0, 1))
    h.read("other", "x", at=(2, 3))
    h.read("k", "a", at=(2, 3))
    report = register.check(h.ops)
    assert report.verdicts == {"k": "linearizable", "other": "linearizable"}


def test_corrupt_body_flagged_by_the_reader_is_torn():
    h = History()
    h.write("k", "a", at=(0, 1))
    h.read("k", "a", at=(2, 3), checksum_ok=False)
    anomaly = only_anomaly(h)
    assert (anomaly.kind, indices(anomaly)) == ("torn-body", [1])
    assert "fails its checksum" in anomaly.message


def test_final_read_must_see_the_last_acknowledged_write():
    h = History()
    h.write("k", "a", at=(0, 1))
    h.write("k", "b", at=(2, 3))
    h.read("k", "a", at=(100, 101), final=True)
    report = register.check(h.ops)
    lost = [a for a in report.anomalies if a.kind == "lost-write"]
    assert report.lost == 1
    assert [op.index for op in lost[0].excerpt] == [1, 2]
    assert "write 1 of 'b' lost" in lost[0].message


def test_final_read_may_see_a_concurrent_or_indeterminate_write():
    h = History()
    h.write("k", "a", at=(0, 5))
    h.write("k", "b", at=(1, 4))
    h.write("k", "c", at=(6, 7), type="info")
    h.read("k", "a", at=(100, 101), final=True)
    report = register.check(h.ops)
    assert report.lost == 0
    assert [a.kind for a in report.anomalies] == []
    deleted = History()
    deleted.write("k", "a", at=(0, 1))
    deleted.op("delete", "k", at=(2, 3))
    deleted.read("k", None, at=(9, 10), final=True)
    assert register.check(deleted.ops).anomalies == []


def test_bounded_search_says_unknown_rather_than_linearizable():
    # 14 concurrent writes and reads that need one particular order of them: the
    # search must explore subsets of the writes, far more than the bound allows.
    h = History()
    for n in range(14):
        h.write("k", f"v{n}", at=(0, 100))
    for n in range(14):
        h.read("k", f"v{(n * 5) % 14}", at=(1 + n, 1.5 + n))
    h.read("k", "v3", at=(200, 201))  # impossible at the end: v3 cannot be last
    assert search(h.ops, RegisterModel(), max_configurations=500).verdict == "unknown"
    report = register.check(h.ops, max_configurations=500)
    assert report.unknown == ["k"]
    assert report.anomalies == []


def test_many_timed_out_deletes_are_decided_not_unknown():
    """A node killed and restarted under load leaves dozens of indeterminate deletes per
    key; they all have the same effect, so the search tries them in invocation order
    instead of every subset (found by the object workload's kill -9 run)."""
    h = History()
    for n in range(40):
        t = 10 * n
        h.write("k", f"v{n}", at=(t, t + 1))
        h.op("delete", "k", at=(t + 2, None), type="info")  # timed out
        # a read that needs one of the pending deletes to have happened, or none
        h.read("k", None if n % 2 else f"v{n}", at=(t + 3, t + 4))
    report = register.check(h.ops, max_configurations=5_000)
    assert report.unknown == [] and report.anomalies == []
    h.read("k", "v7", at=(1000, 1001))  # v7 was overwritten long ago: no order allows it
    report = register.check(h.ops, max_configurations=5_000)
    assert report.unknown == [] and [a.kind for a in report.anomalies] == ["nonlinearizable"]


# --- generated histories -----------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

step = st.tuples(st.sampled_from(["write", "read", "delete"]),
                 st.integers(0, 3),  # time to the next linearization point
                 st.integers(0, 6),  # how long before its point it was invoked
                 st.integers(0, 6),  # how long after its point it completed
                 st.booleans())      # whether a write's completion is lost (info)


def executed(steps: list[tuple[str, int, int, int, bool]]) -> History:
    """Runs the steps on a real register in order; each operation takes effect at its
    own point, and its invocation and completion are spread around that point."""
    h = History()
    state, point = None, 0
    for n, (f, gap, before, after, lost) in enumerate(steps):
        point += gap + 1
        at = (point - before, point + after)
        if f == "read":
            h.read("k", state, at=at)
        elif f == "delete":
            state = None
            h.op("delete", "k", at=at, type="info" if lost else "ok")
        else:
            state = f"v{n}"
            h.write("k", state, at=(at[0], None if lost else at[1]),
                    type="info" if lost else "ok")
    return h


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=1, max_size=25))
def test_histories_of_a_real_register_are_linearizable(steps):
    h = executed(steps)
    assert register.check(h.ops).verdicts["k"] == "linearizable"


@settings(max_examples=150, deadline=None)
@given(st.lists(step, min_size=1, max_size=25), st.data())
def test_a_read_changed_to_a_value_never_written_is_never_linearizable(steps, data):
    h = executed([*steps, ("read", 0, 0, 0, False)])
    reads = [n for n, op in enumerate(h.ops) if op.f == "read"]
    n = data.draw(st.sampled_from(reads))
    h.ops[n] = replace(h.ops[n], result="never-written")
    assert register.check(h.ops).verdicts["k"] == "nonlinearizable"
    # the search alone (without the checker's shortcut for unwritten values) agrees
    assert search(h.ops, RegisterModel()).verdict == "nonlinearizable"


tiny_op = st.tuples(st.sampled_from(["write", "read", "delete"]),
                    st.sampled_from(["a", "b", None]),
                    st.integers(0, 8), st.integers(0, 4), st.booleans())


def brute_force(ops) -> bool:
    """The definition: some subset of the info writes plus every ok operation has an
    order that respects real time and the register's semantics."""
    ok = [op for op in ops if op.type == "ok"]
    info = [op for op in ops if op.type == "info"]
    for mask in range(1 << len(info)):
        chosen = ok + [op for n, op in enumerate(info) if mask >> n & 1]
        for order in permutations(chosen):
            if any(b.precedes(a) for i, a in enumerate(order) for b in order[i + 1:]):
                continue
            state, legal = None, True
            for op in order:
                legal, state = RegisterModel().step(state, op)
                if not legal:
                    break
            if legal:
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(st.lists(tiny_op, min_size=1, max_size=6))
def test_search_agrees_with_the_definition_on_small_histories(spec):
    h = History()
    for f, value, start, length, lost in spec:
        at = (start, None if lost and f != "read" else start + length)
        if f == "read":
            h.read("k", value, at=at)
        else:
            h.op(f, "k", value if f == "write" else None, at=at,
                 type="info" if at[1] is None else "ok")
    expected = "linearizable" if brute_force(h.ops) else "nonlinearizable"
    assert search(h.ops, RegisterModel()).verdict == expected
    assert register.check(h.ops).verdicts["k"] == expected
