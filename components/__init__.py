"""Inference-time components, one module per technique, with their prompts.

The engine builds them by config ``type`` (see `archon_async.Registry`):
``generator``, ``fuser``, ``ranker``, ``critic``, ``verifier``, ``unit_test_generator``,
``unit_test_evaluator``. Each class takes its `archon_async.core.ComponentSpec` and has
``async run(ctx, state) -> dict`` returning the state keys it writes. `prompts` holds
their prompts, `formats` the reply formats, `scoring` the reward-model scorer protocol.
"""
