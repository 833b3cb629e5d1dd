"""Reading the server's Prometheus metrics port the way a scraper does."""

from __future__ import annotations

import re
import time
import urllib.request

SAMPLE = re.compile(r'^(\w+)\{([^}]*)\} ([0-9.eE+-]+)$')


def scrape(server, path: str = "/metrics") -> dict[tuple[str, frozenset], float]:
    """Every labelled sample of /metrics: (name, labels) -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}{path}") as reply:
        text = reply.read().decode()
    samples = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = frozenset(tuple(part.split("=", 1)) for part in
                               re.findall(r'\w+="[^"]*"', match.group(2)))
            samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def scrape_once_moved(server, before: dict, name: str, timeout: float = 10.0,
                      by: float | None = None, **labels: str) -> dict[tuple[str, frozenset], float]:
    """A scrape taken once ``name`` has moved from ``before`` (by at least ``by``, if given):
    Triton counts a request just after its response is sent, so a scrape right after the
    answer can still miss it."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        moved = value(samples, name, **labels) - value(before, name, **labels)
        if (moved != 0) if by is None else (moved >= by):
            return samples
        if time.monotonic() > deadline:
            return samples
        time.sleep(0.1)


def value(samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = {(k, f'"{v}"') for k, v in labels.items()}
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)
