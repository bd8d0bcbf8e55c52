"""1,000 concurrent long polls spread over a 3-node cluster: every poll returns messages
or an empty answer within its wait, none fails, and every message sent is received once
(the single-node variant is tests/integration/test_long_polls.py)."""

from __future__ import annotations

import asyncio
from collections import Counter

from long_polls import run_polls

POLLS = 1000
WAIT = 8
MESSAGES = 300


def test_a_thousand_long_polls_on_a_cluster(shared_cluster):
    c = shared_cluster  # 3 nodes, 3 AZs; the queues run_polls makes are its own
    endpoints = [c.endpoint(n) for n in c.node_ids]
    result = asyncio.run(run_polls(endpoints, POLLS, WAIT, MESSAGES))
    assert result.errors == [], Counter(result.errors).most_common(5)
    assert result.answered == POLLS
    assert sorted(Counter(result.received).values()) == [1] * MESSAGES
    assert max(result.seconds) < WAIT + 5
