"""ITAS, the inference-time architecture search: which architecture scores best on a
benchmark within a budget.

This subpackage owns the search: reading Archon's search files (`load_search_file`), the
space of feasible architectures (`Space`, `Candidate`), the simulated ground truth with an
exact expected score for every architecture (`Effects`, `Truth`), the search algorithms,
evaluation, the run directory's record and outputs, and the ``archon-async search`` command.

    >>> from archon_async.search import EXAMPLE_SEARCH_CONFIG, load_search_file, Space
    >>> settings, models = load_search_file(EXAMPLE_SEARCH_CONFIG)
    >>> space = Space(settings, models)
"""

from __future__ import annotations

from ._algorithms import ALGORITHMS
from ._effects import Effects, QuestionSet
from ._failures import ProviderOutageError
from ._load import EXAMPLE_SEARCH_CONFIG, load_search_file, search_file_from_dict
from ._models import ModelRef, resolve_model
from ._montecarlo import draw_answer
from ._record import Evaluation
from ._run import Search, SearchEvent
from ._settings import Budget, Constraints, EarlyStopping, Extension, SearchFile
from ._space import AXES, Candidate, Cost, Space
from ._truth import Truth

__all__ = [
    "ALGORITHMS",
    "AXES",
    "EXAMPLE_SEARCH_CONFIG",
    "Budget",
    "Candidate",
    "Constraints",
    "Cost",
    "EarlyStopping",
    "Effects",
    "Evaluation",
    "Extension",
    "ModelRef",
    "ProviderOutageError",
    "QuestionSet",
    "Search",
    "SearchEvent",
    "SearchFile",
    "Space",
    "Truth",
    "draw_answer",
    "load_search_file",
    "resolve_model",
    "search_file_from_dict",
]
