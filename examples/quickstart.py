"""Answer one question with the built-in architecture (README, "Use it from Python").

Run it as it is: ``python examples/quickstart.py`` (simulated: no key needed). Remove
``simulate=True`` to call the real providers, with keys from the environment.
"""

import asyncio

from archon_async import Architecture, Engine


async def main() -> None:
    architecture = Architecture.from_name("default")  # or .from_file("my_config.json")
    async with Engine(architecture, simulate=True) as engine:
        result = await engine.generate("Explain the CAP theorem in two sentences.")
    print(result.text)
    print(result.trace.totals())  # calls, tokens in/out, retries, wall time


asyncio.run(main())
