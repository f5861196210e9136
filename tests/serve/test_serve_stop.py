"""``stop``: answers end before their first stop sequence, whole and streamed."""

from __future__ import annotations

import random

import pytest

from archon_async.serve import create_app
from archon_async.serve._stop import StopScanner, cut_at_stop
from tests.serve.conftest import Clients
from tests.serve.serve_helpers import architecture, running, simulator

QUESTION = [{"role": "user", "content": "Explain rainbows."}]


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("one two three", ["two"], "one "),
        ("one two three", ["zzz"], "one two three"),
        ("one two three", ["three", "two"], "one "),
        # A model stops where a sequence is first complete: "c" ends before "abcd" does.
        ("xabcd", ["abcd", "c"], "xab"),
        ("xabcd", ["abcd", "bcd"], "x"),  # two end together: the one starting first
        ("STOP at once", ["STOP"], ""),
    ],
)
def test_cut_at_stop(text: str, stops: list[str], expected: str) -> None:
    assert cut_at_stop(text, stops) == expected


@pytest.mark.parametrize("seed", range(40))
def test_a_stream_is_cut_as_the_whole_text_would_be(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice("ab \n") for _ in range(60))
    stops = ["".join(rng.choice("ab \n") for _ in range(rng.randint(1, 5))) for _ in range(2)]
    scanner, sent, start = StopScanner(stops), [], 0
    while start < len(text):
        end = start + rng.randint(1, 6)
        sent.append(scanner.feed(text[start:end]))
        start = end
    sent.append(scanner.flush())
    assert "".join(sent) == cut_at_stop(text, stops)


def test_stop_cuts_whole_and_streamed_answers_even_across_pieces(clients: Clients) -> None:
    with simulator(reply_tokens=30, chunk_interval_s=0.01) as sim:
        with running(create_app([architecture()], simulate=sim.base_url)) as root:
            client = clients(root, "none")

            def streamed(**fields: object) -> tuple[list[str], list[str | None]]:
                pieces, finishes = [], []
                for chunk in client.chat.completions.create(
                    model="one-call", messages=QUESTION, stream=True, seed=3, **fields
                ):
                    for choice in chunk.choices:
                        if choice.delta.content:
                            pieces.append(choice.delta.content)
                        finishes.append(choice.finish_reason)
                return pieces, finishes

            pieces, _ = streamed()
            full = "".join(pieces)
            # A stop sequence spanning the boundary of the third and fourth pieces.
            assert len(pieces) > 5 and len(pieces[2]) >= 2 and len(pieces[3]) >= 2
            stop = pieces[2][-2:] + pieces[3][:2]
            expected = full[: full.index(stop)]
            cut, finishes = streamed(stop=[stop, "never in the answer"])
            whole = client.chat.completions.create(
                model="one-call", messages=QUESTION, seed=3, stop=stop
            )
    assert "".join(cut) == expected  # nothing past the stop was sent
    assert not any(stop in piece for piece in cut)
    assert [f for f in finishes if f] == ["stop"]
    assert whole.choices[0].message.content == expected
    assert whole.choices[0].finish_reason == "stop"
