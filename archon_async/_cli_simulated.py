"""How the command line keeps simulated runs visible: the first line it prints says so, and
how to run for real; a real judge never grades simulated answers."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ._engine import Engine
from ._exceptions import InvalidInputError

__all__ = ["announce_simulated", "refuse_simulated_answers", "simulated_notice"]


def _key_names(engine: Engine) -> list[str]:
    from ._keys import key_variables

    types = {spec.model_type for layer in engine.architecture.layers for spec in layer}
    return sorted({key_variables(model_type)[0] for model_type in types})


def simulated_notice(engine: Engine, *, command: str, chosen: bool) -> str:
    """The line a simulated ``command`` (run, batch, judge) starts with.

    Args:
        engine: the command's engine (simulated).
        command: the sub-command, for the advice.
        chosen: the user asked for it (``--simulate``, ``--simulate-url``); otherwise the
            built-in architecture was simulated because no config was given.
    """
    keys = " / ".join(_key_names(engine)) or "the providers' API keys"
    real = (
        f"set {keys} in the environment (or a .env file) or pass --keys FILE; or use your "
        "own OpenAI-compatible server with --base-url URL --model NAME (a provider's base URL "
        "variable, e.g. OPENAI_BASE_URL, points it elsewhere too)"
    )
    source = (
        "the simulated provider"
        if chosen
        else ("the built-in architecture on the simulated provider (no CONFIG was given)")
    )
    if command == "judge":
        what = "simulated judge: the ratings come from the simulated provider, no judge model"
        how = f"To grade for real, drop --simulate and {real}."
    else:
        what = (
            f"simulated {command}: {'answers come' if command == 'batch' else 'the answer comes'}"
        )
        what += f" from {source}, not a model"
        if chosen:
            how = f"To run for real, drop --simulate and {real}."
        else:
            how = f"To run for real, give a config (e.g. 'default') and {real}."
    if command != "run":
        what += '; every line written and the summary say "simulated": true'
    return f"archon-async: {what}. {how}"


def announce_simulated(engine: Engine, *, command: str, chosen: bool) -> None:
    """Print `simulated_notice` on stderr first, if ``engine`` is simulated."""
    if engine.simulated:
        sys.stderr.write(simulated_notice(engine, command=command, chosen=chosen) + "\n")
        sys.stderr.flush()


def refuse_simulated_answers(
    answers: Mapping[str, Mapping[str, Any]], path: Path, engine: Engine
) -> None:
    """Refuse, before any call, to have a real judge grade simulated answers (a real bill
    for a rating of text no model wrote).

    Raises:
        InvalidInputError: some answers say ``"simulated": true`` and the judge is real.
    """
    if engine.simulated:
        return
    simulated = _simulated_ids(answers.items())
    if simulated:
        raise InvalidInputError(
            f"{path}: {len(simulated)} of {len(answers)} answers are simulated (e.g. "
            f"{simulated[0]}): no model wrote them, so a real judge would rate nothing real; "
            "judge them with --simulate, or answer the benchmark for real first"
        )


def _simulated_ids(records: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    return [ident for ident, record in records if record.get("simulated") is True]
