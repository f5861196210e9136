"""Running one layer: every component concurrently, then merging their writes in order.

One exception keeps Archon's meaning: Archon runs a layer's components one after another,
and its unit test generator appends its tests to the query as it runs, so the components
listed after it in the same layer read the tests. Here those components start once the
unit test generators before them are done, and read the tests through the state's
`QUERY_UNIT_TESTS` (the others still start at once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import Any

import anyio

from ._concurrency import gather_map
from ._config import ComponentSpec
from ._context import RequestShape
from ._exceptions import ArchonError, ComponentError, LayerFailedGroup
from ._trace import ComponentTrace, LayerTrace
from .core import QUERY_UNIT_TESTS, Component, ComponentContext, StateUpdate, query_unit_tests

__all__ = ["LayerPlan", "run_layer"]

#: Makes a component's context: (layer index, spec, position, trace) -> context.
ContextFactory = Callable[[int, ComponentSpec, int, ComponentTrace], ComponentContext]
_STRING_LISTS = ("candidates", "critiques", "unit_tests")


class LayerPlan:
    """One layer of an architecture as every run of it reads it, worked out once per engine:
    its components, the `RequestShape` of each (the engine's contexts build requests from
    it), and the positions of its unit test generators (see the module docstring)."""

    __slots__ = ("generators", "members", "shapes")

    def __init__(self, members: Sequence[tuple[ComponentSpec, Component]]) -> None:
        self.members = tuple(members)
        self.shapes = tuple(RequestShape(spec) for spec, _ in members)
        self.generators = [
            i for i, (spec, _) in enumerate(members) if spec.type == "unit_test_generator"
        ]


async def run_layer(
    index: int,
    plan: LayerPlan,
    state: Mapping[str, Any],
    make_context: ContextFactory,
) -> tuple[dict[str, Any], LayerTrace]:
    """Run the components of a layer concurrently; the layer ends when all of them end.

    A component that fails is recorded in the trace and contributes nothing, as long as
    another component of the layer succeeds (Archon drops failed outputs the same way);
    when every component fails the layer raises `LayerFailedGroup`.

    Returns:
        The next state (lists concatenated in config order; unwritten keys passed
        through) and the layer's trace.
    """
    started = time.perf_counter()
    run = _LayerRun(index, plan, state, make_context)
    traces = run.traces
    # A layer of one component (most layers) runs it in this coroutine: no level between.
    outcomes = (
        [await run.component(0)]
        if len(traces) == 1
        else await gather_map(run.component, range(len(traces)))
    )
    errors = [outcome for outcome in outcomes if isinstance(outcome, ArchonError)]
    if len(errors) == len(outcomes):
        failed = LayerFailedGroup(f"layer {index}: every component failed", errors)
        # The failed layer's calls were made (and paid for): the engine puts them in the trace.
        failed.layer_trace = LayerTrace(
            index=index, components=traces, elapsed_s=time.perf_counter() - started
        )
        raise failed
    next_state = dict(state)
    written: set[str] = set()
    for outcome, trace in zip(outcomes, traces, strict=True):
        if isinstance(outcome, ArchonError):
            continue
        trace.outputs = outcome
        for key, value in outcome.items():
            if isinstance(value, list):
                # The first writer of a key replaces the previous layer's value; later ones extend.
                next_state[key] = [*next_state[key], *value] if key in written else list(value)
            else:
                next_state[key] = value
            written.add(key)
    run.tests.merge(state, next_state)
    return next_state, LayerTrace(
        index=index, components=traces, elapsed_s=time.perf_counter() - started
    )


class _LayerRun:
    """One run of a layer: its components' traces, and running each of them.

    A class rather than a closure: one object per layer run, not a function and a cell per
    variable it reads (a batch keeps every prompt's layer alive at once).
    """

    __slots__ = ("_index", "_make_context", "_members", "_state", "tests", "traces")

    def __init__(
        self,
        index: int,
        plan: LayerPlan,
        state: Mapping[str, Any],
        make_context: ContextFactory,
    ) -> None:
        self._index = index
        self._members = members = plan.members
        self._state = state
        self._make_context = make_context
        # A layer without generators (nearly all) has nothing to order and nothing that
        # changes: every run shares one, instead of three objects alive per run.
        self.tests = _UnitTestOrder(plan.generators) if plan.generators else _NO_UNIT_TESTS
        self.traces = [
            ComponentTrace(index=i, type=spec.type, model=spec.model, model_type=spec.model_type)
            for i, (spec, _) in enumerate(members)
        ]

    async def component(self, position: int) -> StateUpdate | ArchonError:
        """Run the component at ``position``: its update, or the error it ended with."""
        spec, component = self._members[position]
        trace, tests = self.traces[position], self.tests
        before = tests.generators_before(position)
        # Only a component after a unit test generator of its layer waits (no coroutine else).
        view = await tests.state_after(before, self._state, trace) if before else self._state
        begun = time.perf_counter()
        try:
            context = self._make_context(self._index, spec, position, trace)
            update = _checked(await component.run(context, view), spec, self._index, position)
            tests.written(position, update)
            return update
        except ArchonError as exc:
            trace.error = f"{type(exc).__name__}: {exc}"
            return exc
        finally:
            trace.elapsed_s = time.perf_counter() - begun
            tests.done(position)


def _checked(update: Any, spec: ComponentSpec, layer: int, position: int) -> StateUpdate:
    """Reject a component result that would corrupt the state, naming the component."""
    if not isinstance(update, dict):
        raise ComponentError(
            f"{_where(spec, layer, position)} returned {type(update).__name__}, not a dict of "
            "state keys"
        )
    for key in _STRING_LISTS:
        value = update.get(key)
        # map, not a generator expression: no Python frame resumed for each item (a
        # generator's ten candidates, every prompt).
        if value is not None and not (
            isinstance(value, list) and all(map(isinstance, value, repeat(str)))
        ):
            raise ComponentError(
                f"{_where(spec, layer, position)} wrote {key!r} that is not a list of strings"
            )
    return update


def _where(spec: ComponentSpec, layer: int, position: int) -> str:
    return f"layers[{layer}][{position}] ({spec.type})"


class _UnitTestOrder:
    """Archon's order around the unit test generators of one layer (see the module doc)."""

    __slots__ = ("_done", "_generators", "_tests")

    def __init__(self, generators: list[int]) -> None:
        self._generators = generators  # the positions of the layer's unit test generators
        self._done = {i: anyio.Event() for i in generators}
        self._tests: dict[int, list[str]] = {}

    def generators_before(self, position: int) -> Sequence[int]:
        """The unit test generators listed before ``position`` (the component waits for them)."""
        return [i for i in self._generators if i < position] if self._generators else ()

    async def state_after(
        self, before: Sequence[int], state: Mapping[str, Any], trace: ComponentTrace
    ) -> Mapping[str, Any]:
        """The state a component reads once the generators ``before`` it are done: with
        their tests."""
        trace.notes.append({"event": "waited_for_unit_tests", "generators": before})
        for generator in before:
            await self._done[generator].wait()
        tails = [self._tests[i] for i in before if self._tests.get(i)]
        if not tails:
            return state
        return {**state, QUERY_UNIT_TESTS: [*query_unit_tests(state), *tails]}

    def written(self, position: int, update: StateUpdate) -> None:
        if position in self._done:
            self._tests[position] = list(update.get("unit_tests") or [])

    def done(self, position: int) -> None:
        if position in self._done:
            self._done[position].set()

    def merge(self, state: Mapping[str, Any], next_state: dict[str, Any]) -> None:
        """Later layers read the tests of this layer's generators after the earlier ones."""
        tails = [self._tests[i] for i in self._generators if self._tests.get(i)]
        if tails:
            next_state[QUERY_UNIT_TESTS] = [*query_unit_tests(state), *tails]


#: The order of every run of a layer without unit test generators: empty, and never written
#: (`written` and `done` change only the generators' entries).
_NO_UNIT_TESTS = _UnitTestOrder([])
