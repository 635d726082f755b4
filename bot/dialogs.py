"""Where a multi-step dialog (feedback, subscription, ...) stands for each user."""

from __future__ import annotations

from typing import Any, Protocol


class DialogStore(Protocol):
    async def current(self, platform: str, user_id: str) -> str | None: ...

    async def peek(self, platform: str, user_id: str) -> str | None:
        """`current`, for the router's first look at an update, before the update
        has read or written anything (a store may then serve many updates at once)."""
        ...

    async def state(self, platform: str, user_id: str) -> dict[str, Any]: ...

    async def open(self, platform: str, user_id: str, name: str, state: dict[str, Any]) -> None: ...

    async def close(self, platform: str, user_id: str) -> None: ...

    async def take(self, platform: str, user_id: str, name: str) -> dict[str, Any] | None:
        """Close dialog ``name`` and return its state; None if it is not open (exactly once)."""
        ...

    async def expired(self, platform: str, user_id: str) -> str | None:
        """The name of a dialog the user left unfinished until it expired, once (then it is gone).

        Asked after `peek` found no open dialog, so that the user hears why the
        dialog they come back to is no longer there.
        """
        ...


class MemoryDialogStore:
    """For the terminal chat and tests; deployments keep dialogs in the database."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    async def current(self, platform: str, user_id: str) -> str | None:
        entry = self._open.get((platform, user_id))
        return entry[0] if entry else None

    peek = current

    async def state(self, platform: str, user_id: str) -> dict[str, Any]:
        entry = self._open.get((platform, user_id))
        return dict(entry[1]) if entry else {}

    async def open(self, platform: str, user_id: str, name: str, state: dict[str, Any]) -> None:
        self._open[(platform, user_id)] = (name, dict(state))

    async def close(self, platform: str, user_id: str) -> None:
        self._open.pop((platform, user_id), None)

    async def take(self, platform: str, user_id: str, name: str) -> dict[str, Any] | None:
        entry = self._open.get((platform, user_id))
        if entry is None or entry[0] != name:
            return None
        del self._open[(platform, user_id)]
        return dict(entry[1])

    async def expired(self, platform: str, user_id: str) -> str | None:
        return None          # dialogs in memory do not expire
