"""The engine inside an application (README, "Inside applications"): a batch streamed from
Python with resume, and one engine shared by threads. Run: ``python examples/batch_and_threads.py``.
"""

import asyncio
import tempfile
from concurrent.futures import ThreadPoolExecutor
from contextlib import aclosing
from pathlib import Path

from archon_async import Engine


async def batch(engine: Engine, output: Path) -> None:
    prompts = [{"id": n, "prompt": f"What is {n} * 7?"} for n in range(20)]
    # Answers stream out as they are written; rerun with the same output to resume.
    async with aclosing(engine.batch(prompts, output=output, concurrency=8)) as lines:
        async for line in lines:
            print(line["id"], line.get("answer", line.get("error"))[:60])


def threads() -> None:
    # One engine, many threads: generate_sync is safe to share, like openai.OpenAI.
    with Engine("single_model", simulate=True) as engine, ThreadPoolExecutor(8) as pool:
        questions = [f"Question {n}?" for n in range(16)]
        for result in pool.map(engine.generate_sync, questions):
            print(result.text[:60])


with tempfile.TemporaryDirectory() as folder:
    asyncio.run(batch(Engine("single_model", simulate=True), Path(folder) / "answers.jsonl"))
threads()
