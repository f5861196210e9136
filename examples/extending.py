"""Custom generators and a custom component (README, "Extending").

Run it as it is: ``python examples/extending.py`` (no key: its models are plain functions).
"""

import asyncio

from archon_async import Architecture, ChatRequest, Engine, Registry


async def my_model(request: ChatRequest) -> str:  # a custom generator: a ChatRequest in, text out
    return f"{request.model} says: " + request.messages[-1]["content"][::-1]


def archon_model(model, messages, max_tokens, temperature):  # Archon's own signature
    return f"{model} (sync) says hello"  # a sync one runs on a worker thread


class Shorten:  # a custom component: no model, so no "model" key in its config
    def __init__(self, spec):
        self.limit = spec.option("limit", 200)  # its own setting, from its config

    async def run(self, ctx, state):
        return {"candidates": [text[: self.limit] for text in state["candidates"]]}


registry = (
    Registry.default()
    .add_generator("My_API", my_model)
    .add_generator("Archon_Style_API", archon_model)
    .add_component("shorten", Shorten)
)
config = {  # or Architecture.from_file("my_config.json", registry=registry)
    "name": "custom",
    "layers": [
        [
            {"type": "generator", "model": "mine", "model_type": "My_API"},
            {"type": "generator", "model": "archon-style", "model_type": "Archon_Style_API"},
        ],
        [{"type": "shorten", "limit": 12}],
    ],
}
architecture = Architecture.from_dict(config, registry=registry)


async def main() -> None:
    async with Engine(architecture, seed=1) as engine:
        result = await engine.generate("Hello there")
    print(result.candidates)  # both answers, shortened to 12 characters


asyncio.run(main())
