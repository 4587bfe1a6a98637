"""Waiting for another process (a gateway, a listener thread) to catch up, without fixed sleeps."""

from __future__ import annotations

import time


def wait_until(condition, timeout: float = 30.0, interval: float = 0.05) -> bool:
    """True as soon as ``condition()`` holds; its last value once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
