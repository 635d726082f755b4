"""The outcome of one attempt to send one message, the same for every messenger.

A channel never retries and never sleeps: it says what happened and the caller
(the reply outbox, the broadcast worker) decides what to do next. Keeping the
verdict raw is what lets one rate limiter and one retry policy serve every
platform.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(str, enum.Enum):
    DELIVERED = "delivered"
    RETRY_AFTER = "retry_after"        # rate limited: wait ``retry_after`` seconds; not the message's fault
    TRANSIENT = "transient"            # 5xx, timeout, connection reset: back off and try again
    BLOCKED = "blocked"                # the user blocked the bot or the chat is gone: stop writing to it
    OUTSIDE_WINDOW = "outside_window"  # the platform allows no message now (Zalo: 7 days after the last one)
    PERMANENT = "permanent"            # refused for good (bad request, text too long, …)


# Outcomes worth another attempt later.
RETRYABLE = frozenset({Outcome.RETRY_AFTER, Outcome.TRANSIENT})


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    retry_after: float = 0.0           # seconds, for RETRY_AFTER
    detail: str = ""                   # short and log-safe: never a token, never the message text
    message_ids: tuple[str, ...] = ()  # the platform's ids of what went out (for edits, reports)
    parts_sent: int = 0                # a long reply is several messages; how many went out
    # The request reached the platform but no verdict came back (5xx after
    # sending, timeout): the message may have been delivered, so a retry may
    # duplicate it. Bot APIs cannot tell the two apart; callers count these.
    maybe_delivered: bool = False
    platform_wide: bool = False        # a RETRY_AFTER that concerns every chat, not only this one

    @property
    def delivered(self) -> bool:
        return self.outcome is Outcome.DELIVERED

    @property
    def retryable(self) -> bool:
        return self.outcome in RETRYABLE

    @classmethod
    def ok(cls, *message_ids: str, parts_sent: int = 1) -> "Delivery":
        return cls(Outcome.DELIVERED, message_ids=tuple(message_ids), parts_sent=parts_sent)
