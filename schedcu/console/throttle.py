"""Throttling of failed sign-ins, per client address and per user name.

After `limit` failed sign-ins within `window_s`, from one address or naming one user (basic auth), every sign-in
from that address or for that user is answered 429 until the oldest of those failures is `window_s` old: a
guessing client gets `limit` tries per window, not thousands a second. Bearer tokens name no user: the address
alone counts them. Behind a TLS proxy on the same machine, uvicorn takes the address from the proxy's
`X-Forwarded-For` (it trusts 127.0.0.1 only).
"""

import time
from collections import deque
from collections.abc import Callable, Iterable

LIMIT = 10
WINDOW_S = 300.0
MAX_KEYS = 100_000  # beyond this many addresses and names, the ones with no recent failure are forgotten


def keys(address: str | None, user: str | None) -> list[str]:
    """What a sign-in counts against: its address and, with basic auth, the user name it gave."""
    return [f"from address {address}"] + ([f"for user {user}"] if user else [])


class SignInThrottle:
    def __init__(self, limit: int = LIMIT, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.get(key, deque())
        while found and found[0] <= now - self.window_s:
            found.popleft()
        return found

    def retry_after(self, counted: Iterable[str]) -> tuple[str, float] | None:
        """The first of `counted` that is throttled and the seconds until it may try again; None if none is."""
        now = self.clock()
        for key in counted:
            recent = self._recent(key, now)
            if len(recent) >= self.limit:
                return key, recent[0] + self.window_s - now
        return None

    def failed(self, counted: Iterable[str]) -> None:
        now = self.clock()
        if len(self._failures) >= MAX_KEYS:
            self._failures = {k: v for k, v in self._failures.items() if self._recent(k, now)}
        for key in counted:
            self._failures.setdefault(key, deque()).append(now)
