"""Component prompts get replies in the formats the components parse."""

from __future__ import annotations

import re

import httpx
import openai
import pytest
from sim_helpers import Serve, user

from archon_async.components.critic import parse_critiques
from archon_async.components.prompts import (
    critic_prompt,
    fuser_prompt,
    ranker_prompt,
    unit_test_evaluator_prompt,
    unit_test_generator_prompt,
    verifier_reasoning_prompt,
    verifier_verdict_prompt,
)
from archon_async.components.ranker import parse_ranking
from archon_async.components.unit_test_evaluator import parse_unit_test_verdicts
from archon_async.components.unit_test_generator import parse_unit_tests
from archon_async.components.verifier import parse_verdict
from archon_async.simulate import SimulatedServer
from archon_async.simulate._tasks import Task, detect_task

QUESTION = "A farmer has 12 cows and buys 30 more. How many cows does he have?"
KEY = {QUESTION: "42"}
RIGHT = "He adds them up. The answer is 42.\n#### 42"
WRONG = "He subtracts. The answer is 18.\n#### 18"


async def ask(sim: SimulatedServer, prompt: str, model: str = "judge") -> str:
    async with openai.AsyncOpenAI(
        base_url=sim.openai_base_url, api_key="sk-test", max_retries=0
    ) as client:
        reply = await client.chat.completions.create(
            model=model,
            messages=[{"role": "system", "content": "Be careful."}, *user(prompt)],
        )
    assert reply.choices[0].message.content is not None
    return reply.choices[0].message.content


def test_detection_by_markers_and_labels() -> None:
    candidates = [RIGHT, WRONG, "No idea."]
    cases = {
        Task.FUSE: fuser_prompt(QUESTION, candidates, ["good", "bad", "vague"]),
        Task.RANK: ranker_prompt(QUESTION, candidates, None),
        Task.CRITIQUE: critic_prompt(QUESTION, candidates),
        Task.VERIFY_REASONING: verifier_reasoning_prompt(QUESTION, RIGHT),
        Task.VERIFY_VERDICT: verifier_verdict_prompt(QUESTION, RIGHT, "Looks fine."),
        Task.UNIT_TESTS: unit_test_generator_prompt(QUESTION, 3),
        Task.UNIT_TEST_VERDICTS: unit_test_evaluator_prompt(QUESTION, RIGHT, ["a", "b", "c"]),
        Task.GENERATE: QUESTION,
    }
    for task, prompt in cases.items():
        assert detect_task(prompt).task is task, task
    ranked = detect_task(cases[Task.RANK])
    assert len(ranked.candidates) == 3
    assert ranked.candidates[0].startswith("He adds them up.")
    assert ranked.candidates[2].startswith("No idea.")
    assert len(detect_task(cases[Task.FUSE]).candidates) == 3
    assert detect_task(cases[Task.UNIT_TESTS]).count == 3
    assert detect_task(unit_test_generator_prompt(QUESTION, None)).count == 5
    assert detect_task(cases[Task.UNIT_TEST_VERDICTS]).count == 3
    one_test = unit_test_evaluator_prompt(QUESTION, RIGHT, ["only"])
    assert detect_task(one_test).count == 1


@pytest.mark.parametrize("count", [2, 4, 7])
async def test_ranker_prompt_gets_a_ranking_of_every_candidate(serve: Serve, count: int) -> None:
    sim = await serve(answer_key=KEY, skill=1.0)
    candidates = [WRONG] * (count - 1) + [RIGHT]
    reply = await ask(sim, ranker_prompt(QUESTION, candidates, None))
    last = reply.strip().splitlines()[-1]
    numbers = [int(n) for n in re.findall(r"\[(\d+)\]", last)]
    assert sorted(numbers) == list(range(1, count + 1))
    assert numbers[0] == count  # the one with the right answer comes first
    assert parse_ranking(reply, count) == [n - 1 for n in numbers]


async def test_critic_prompt_gets_one_block_per_candidate(serve: Serve) -> None:
    sim = await serve(answer_key=KEY)
    reply = await ask(sim, critic_prompt(QUESTION, [RIGHT, WRONG, "Maybe 40?"]))
    assert re.findall(r"^\[(\d+)\]$", reply, re.M) == ["1", "2", "3"]
    assert reply.count("Strengths:") == reply.count("Weaknesses:") == 3
    critiques = parse_critiques(reply, 3)
    assert critiques is not None
    assert "expected result" in critiques[0]
    assert "looks wrong" in critiques[1]


async def test_verifier_prompts(serve: Serve) -> None:
    sim = await serve(answer_key=KEY)
    reasoning = await ask(sim, verifier_reasoning_prompt(QUESTION, RIGHT))
    assert reasoning
    assert parse_verdict(reasoning) is None
    for candidate, expected in ((RIGHT, True), (WRONG, False)):
        reply = await ask(sim, verifier_verdict_prompt(QUESTION, candidate, reasoning))
        assert re.search(r"\[(Correct|Incorrect)\]\s*$", reply)
        assert parse_verdict(reply) is expected


async def test_unit_test_prompts(serve: Serve) -> None:
    sim = await serve(answer_key=KEY)
    reply = await ask(sim, unit_test_generator_prompt(QUESTION, 4))
    assert len(re.findall(r"^Unit Test #\d+: .+$", reply, re.M)) == 4
    tests = parse_unit_tests(reply)
    assert len(tests) == 4
    assert len(parse_unit_tests(await ask(sim, unit_test_generator_prompt(QUESTION, None)))) == 5
    for candidate, expected in ((RIGHT, True), (WRONG, False)):
        verdicts = await ask(sim, unit_test_evaluator_prompt(QUESTION, candidate, tests))
        assert len(re.findall(r"^Unit Test #\d+: \[(?:Passed|Failed)\]$", verdicts, re.M)) == 4
        parsed = parse_unit_test_verdicts(verdicts, 4)
        if expected:
            assert parsed == [True] * 4
        else:
            assert parsed.count(False) >= 1


async def test_fuser_follows_agreeing_candidates(serve: Serve) -> None:
    # With no skill of its own, the fuser adopts the candidates' answer.
    sim = await serve(answer_key=KEY, skill=0.0)
    agreeing = fuser_prompt(QUESTION, [RIGHT, RIGHT, RIGHT])
    disagreeing = fuser_prompt(QUESTION, [WRONG, WRONG])
    assert "The answer is 42." in await ask(sim, agreeing)
    assert "The answer is 42." not in await ask(sim, disagreeing)
    skilled = await serve(answer_key=KEY, skill=1.0)
    assert "The answer is 42." in await ask(skilled, disagreeing)


async def test_ranker_without_answer_key_still_ranks(serve: Serve) -> None:
    sim = await serve()
    reply = await ask(sim, ranker_prompt("Write a poem.", ["a", "b", "c"], ["x", "y", "z"]))
    assert parse_ranking(reply, 3) is not None
    assert sim.stats().by_task == {"rank": 1}


async def test_anthropic_wire_gets_formatted_replies_too(serve: Serve) -> None:
    sim = await serve(answer_key=KEY)
    body = {
        "model": "claude",
        "max_tokens": 1024,
        "system": "Be careful.",
        "messages": user(verifier_verdict_prompt(QUESTION, RIGHT, "fine")),
    }
    async with httpx.AsyncClient() as client:
        reply = await client.post(f"{sim.anthropic_base_url}/v1/messages", json=body)
    assert parse_verdict(reply.json()["content"][0]["text"]) is True
