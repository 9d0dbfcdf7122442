"""The timed pass over a task's queries."""

import time

from harness.results.schema import LATENCY_DECIMALS
from harness.runner import run_pass


def test_each_query_latency_is_its_batchs_time_to_the_microsecond():
    def run_batch(batch):
        time.sleep(0.0012345)
        return object()

    outcome = run_pass(run_batch, list(range(7)), batch_size=3)
    assert outcome.num_queries == 7 and len(outcome.query_latencies_s) == 7
    latencies = outcome.query_latencies_s
    assert latencies[0] == latencies[1] == latencies[2] and latencies[3] == latencies[5]  # shared by a batch
    assert all(0.0012 <= v < 0.5 and round(v, LATENCY_DECIMALS) == v for v in latencies)
