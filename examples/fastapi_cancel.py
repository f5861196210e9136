"""Stop the work when the client leaves (README, "Cancelling abandoned requests").

FastAPI and Starlette do not cancel an endpoint whose client disconnected: the architecture
would run to the end, and its calls be paid for. Watch for the disconnect beside the run and
cancel the run when it comes. Serve it with:

    uvicorn fastapi_cancel:app --app-dir examples --port 8000

(simulated unless ARCHON_SIMULATE_URL names a running simulator; drop ``simulate`` for the
real providers).
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI, Request, Response

from archon_async import Engine

engine = Engine("default", simulate=os.environ.get("ARCHON_SIMULATE_URL") or True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with engine:  # one engine for every request: shared connections and limits
        yield


app = FastAPI(lifespan=lifespan)


async def cancel_when_client_leaves(request: Request, scope: anyio.CancelScope) -> None:
    # Once the body is read, the next ASGI message is the disconnect.
    while (await request.receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


@app.get("/answer")
async def answer(request: Request, q: str) -> Response:
    async with anyio.create_task_group() as group:
        group.start_soon(cancel_when_client_leaves, request, group.cancel_scope)
        result = await engine.generate(q)  # cancelled, with every call it started
        group.cancel_scope.cancel()  # answered: stop watching
        return Response(result.text, media_type="text/plain")
    return Response(status_code=499)  # the client left: nobody reads this
