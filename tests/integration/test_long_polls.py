"""1,000 concurrent long polls on one node: every poll returns messages or an empty
answer within its wait, none fails, and every message sent is received once.

Found by a probe before the consensus kit: with 500 concurrent WaitTimeSeconds=20 polls,
21-41 failed with UNAVAILABLE "the queue group is not ready" about 5 s after a message
arrived. The cluster variant is tests/cluster/test_long_polls_cluster.py.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from long_polls import run_polls

POLLS = 1000
WAIT = 8  # seconds: long enough to span the old failure (5 s after a message arrived)
MESSAGES = 300

pytestmark = pytest.mark.slow


def test_a_thousand_long_polls_on_one_node(server):
    result = asyncio.run(run_polls([server.endpoint], POLLS, WAIT, MESSAGES))
    assert result.errors == [], Counter(result.errors).most_common(5)
    assert result.answered == POLLS  # with messages or empty
    assert sorted(Counter(result.received).values()) == [1] * MESSAGES  # each once
    assert max(result.seconds) < WAIT + 5  # nobody hangs past its wait
