"""Math-Verify's answer equivalence in a worker thread (where its timeout is off by our
choice) compares right and says nothing on the log: its notice reached every user."""

from __future__ import annotations

import logging
import threading

import pytest

from archon_async.benchmarks._equivalence import latex_equal


def test_a_worker_thread_compares_without_the_timeout_notice(
    caplog: pytest.LogCaptureFixture,
) -> None:
    results: list[bool] = []
    caplog.set_level(logging.DEBUG)
    worker = threading.Thread(
        target=lambda: results.extend([latex_equal("\\frac{1}{4}", "0.25"), latex_equal("3", "4")])
    )
    worker.start()
    worker.join()
    assert results == [True, False]
    assert not [r for r in caplog.records if "Timeout is disabled" in r.getMessage()]
