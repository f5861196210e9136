"""Inside an application the library prints nothing itself: its events go to the standard
logging module, where the application decides what to show (each run in a fresh process,
so that no test's logging set-up leaks into it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import ROOT

RUN = """
from archon_async import Engine
result = Engine("single_model", simulate=True).generate_sync("What is 17 * 23?")
assert result.text
"""


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


#: A structlog processor that keeps each event's name in ``events`` and drops the event.
_KEEP_EVENTS = """
import logging, structlog
events = []
def keep(logger, method, event_dict):
    events.append(event_dict["event"])
    raise structlog.DropEvent
"""


def _with_kept_events(set_up: str) -> subprocess.CompletedProcess[str]:
    """``set_up`` (after `_KEEP_EVENTS`), then `RUN`, in a fresh process that prints how
    many ``provider_call`` events ``keep`` saw."""
    code = _KEEP_EVENTS + textwrap.dedent(set_up) + RUN
    return _python(code + "print(events.count('provider_call'))\n")


def test_the_library_prints_nothing_by_itself() -> None:
    done = _python(RUN)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""


def test_events_reach_the_standard_logging_module() -> None:
    done = _python(
        textwrap.dedent(
            """
        import logging, sys
        records = []
        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record)
        logging.basicConfig(level=logging.DEBUG, handlers=[Keep()])
        """
        )
        + RUN
        + textwrap.dedent(
            """
        calls = [r for r in records if getattr(r, "archon_event", "") == "provider_call"]
        assert calls, [r.getMessage() for r in records]
        first = calls[0]
        assert first.name == "archon_async._dispatch" and first.levelno == logging.DEBUG
        assert first.archon_fields["status"] == "ok"
        # The run's context without structlog (never imported here: ours holds it).
        assert first.archon_fields["architecture"] == "single-call"
        assert "structlog" not in sys.modules
        assert first.getMessage().startswith("provider_call ")
        assert "sim-key" not in " ".join(r.getMessage() for r in records)  # no key, ever
        print(len(calls))
        """
        )
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 1  # single_model: one call


def test_an_application_structlog_level_decides_whether_a_call_line_is_built() -> None:
    # The per-call line is built only when it would be kept: a filtering structlog logger
    # above DEBUG says no (before, a configured structlog always got it, to drop it).
    done = _with_kept_events(
        """
        from archon_async._logging import get_logger
        log = get_logger("archon_async._dispatch")
        structlog.configure(
            processors=[keep], wrapper_class=structlog.make_filtering_bound_logger(logging.INFO)
        )
        assert not log.enabled_for(logging.DEBUG) and log.enabled_for(logging.INFO)
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
        assert log.enabled_for(logging.DEBUG)
        """
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 1


def test_a_cached_structlog_logger_keeps_its_level_for_the_call_line_and_its_events() -> None:
    # With cache_logger_on_first_use, structlog keeps the logger it built first, whatever is
    # configured later: whether the per-call line is built (the level check the library
    # keeps) agrees with what that logger does with the event when it is logged.
    done = _with_kept_events(
        """
        from archon_async._dispatch import log  # the logger of the per-call line
        structlog.configure(
            processors=[keep],
            wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
            cache_logger_on_first_use=True,
        )
        assert log.enabled_for(logging.DEBUG)
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
        assert log.enabled_for(logging.DEBUG)  # the cached logger's level, as structlog's
        log.debug("kept_by_the_cached_logger")
        assert events == ["kept_by_the_cached_logger"], events
        """
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == 1
