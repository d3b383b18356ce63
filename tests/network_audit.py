"""Recording every socket the test process opens or name it resolves (``sys.addaudithook``)."""

from __future__ import annotations

import ipaddress
import sys
from contextlib import contextmanager

_events: list[tuple[str, object]] = []
_active = [False]


def _hook(event: str, args) -> None:
    if not _active[0]:
        return
    if event == "socket.connect":
        _events.append(("connect", args[1]))
    elif event == "socket.getaddrinfo":
        _events.append(("resolve", args[0]))


sys.addaudithook(_hook)


def is_local(kind: str, target) -> bool:
    """Unix sockets (the Docker daemon) and loopback addresses are local; nothing else is."""
    if isinstance(target, (str, bytes)) and kind == "connect":
        return True  # an AF_UNIX path
    host = target[0] if isinstance(target, tuple) else target
    if isinstance(host, bytes):
        host = host.decode()
    if host in (None, "localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@contextmanager
def recording():
    """Yields the list that fills with ``(kind, target)`` while the block runs."""
    _events.clear()
    _active[0] = True
    found: list[tuple[str, object]] = []
    try:
        yield found
    finally:
        _active[0] = False
        found.extend(_events)
