"""A channel layer that loses a share of its group sends at random, on purpose: the real
Redis Pub/Sub layer underneath, a seeded coin in front. Used to prove that clients which
resume by cursor converge on the database, whatever the doorbell dropped."""

from __future__ import annotations

import random
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer


class LossyRedisLayer(RedisPubSubChannelLayer):
    def __init__(self, *args: Any, drop: float = 0.2, seed: int = 5, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drop = drop
        self.coin = random.Random(seed)
        self.sent = 0
        self.dropped = 0

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if message.get("type") == "hd.event" and self.coin.random() < self.drop:
            self.dropped += 1
            return
        self.sent += 1
        await self._get_layer().group_send(group, message)  # the real one, for this loop
