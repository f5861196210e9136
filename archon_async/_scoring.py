"""Scoring backends for reward-model rankers (``llm-blender/PairRM``)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ._exceptions import MalformedResponseError, ProviderConnectionError, ProviderStatusError

__all__ = ["HttpScorer"]


class HttpScorer:
    """Scores candidates by POSTing ``{"model", "query", "candidates"}`` to ``{base_url}/score``
    and reading ``{"scores": [...]}``: the protocol of the simulated provider, and a thin
    one to put in front of a PairRM model served elsewhere (set ``PAIRRM_BASE_URL``)."""

    def __init__(self, base_url: str, *, model: str, timeout_s: float = 60.0) -> None:
        self._url = base_url.rstrip("/") + "/score"
        self._model = model
        # httpx is imported with the first scorer: the engine imports this module, and a
        # run that scores nothing need not pay for it.
        import httpx

        self._client = httpx.AsyncClient(timeout=timeout_s)

    def __repr__(self) -> str:
        return f"HttpScorer(url={self._url!r}, model={self._model!r})"

    async def score(self, query: str, candidates: Sequence[str]) -> list[float]:
        """One score per candidate, higher is better.

        Raises:
            ProviderError: the backend failed or answered something else.
        """
        import httpx  # loaded with the client

        body = orjson.dumps({"model": self._model, "query": query, "candidates": list(candidates)})
        try:
            reply = await self._client.post(
                self._url, content=body, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise ProviderConnectionError(str(exc), provider="scorer", model=self._model) from exc
        if reply.status_code >= 400:
            raise ProviderStatusError(
                reply.text[:200],
                provider="scorer",
                model=self._model,
                status_code=reply.status_code,
            )
        try:
            scores = orjson.loads(reply.content)["scores"]
            result = [float(score) for score in scores]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedResponseError(
                "the scoring backend's reply has no 'scores' list",
                provider="scorer",
                model=self._model,
            ) from exc
        if len(result) != len(candidates):
            raise MalformedResponseError(
                f"got {len(result)} scores for {len(candidates)} candidates",
                provider="scorer",
                model=self._model,
            )
        return result

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
