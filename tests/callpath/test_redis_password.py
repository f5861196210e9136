"""`RedisLimits` keeps the Redis URL's password out of its attributes: ``url`` is the masked
URL, only the redis client holds the password (and redis-py's repr hides it), so no repr,
``vars()``, log of the object or debugger shows it. It kept the URL whole in ``.url``."""

from __future__ import annotations

import pickle

import pytest

from archon_async import ArchonError
from archon_async.callpath import CallPath, RedisLimits

PASSWORD = "Redis-Secret-0123"


def _shown(limits: RedisLimits) -> str:
    """Everything the object shows of itself: its repr, and each attribute's."""
    return repr(limits) + repr(vars(limits)) + "".join(repr(v) for v in vars(limits).values())


def test_the_password_is_in_no_attribute_of_the_limits() -> None:
    query = f"redis://127.0.0.1:9/0?socket_timeout=5&password={PASSWORD}"
    for url, masked in (
        (f"redis://alice:{PASSWORD}@127.0.0.1:9/0", "redis://alice:***@127.0.0.1:9/0"),
        (f"redis://:{PASSWORD}@127.0.0.1:9/0", "redis://:***@127.0.0.1:9/0"),
        (query, "redis://127.0.0.1:9/0?socket_timeout=5&password=***"),
    ):
        limits = RedisLimits(url)
        assert PASSWORD not in _shown(limits), _shown(limits)
        assert limits.url == masked
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(limits)


async def test_the_client_still_logs_in_with_the_password(redis_url: str) -> None:
    import redis

    with redis.Redis.from_url(redis_url) as admin:
        admin.config_set("requirepass", PASSWORD)
    try:
        limits = RedisLimits(redis_url.replace("redis://", f"redis://:{PASSWORD}@"))
        async with CallPath(shared_limits=limits):  # reaches the server: the password works
            pass
        assert PASSWORD not in _shown(limits)
        wrong = RedisLimits(redis_url.replace("redis://", "redis://:Wrong-Password-9@"))
        with pytest.raises(ArchonError, match="refused the URL's credentials"):
            async with CallPath(shared_limits=wrong):
                pass
    finally:
        with redis.Redis.from_url(redis_url.replace("redis://", f"redis://:{PASSWORD}@")) as admin:
            admin.config_set("requirepass", "")
