"""The memory breakdown the soak and ``perf/memory.py`` report, on this test's own process."""

from __future__ import annotations

import mmap
import os
from pathlib import Path

from perf.memory import process_memory, table


def test_process_memory_counts_resident_shared_memory_pages():
    path = Path("/dev/shm") / f"perf_memory_test_{os.getpid()}"
    size = 8 * 2**20
    with open(path, "w+b") as handle:
        handle.truncate(size)
        mapped = mmap.mmap(handle.fileno(), size)
    try:
        before = process_memory(os.getpid())
        mapped.write(b"x" * size)  # touch every page: now resident in this process
        after = process_memory(os.getpid())
    finally:
        mapped.close()
        path.unlink()
    assert after["shm"] - before["shm"] >= 7.5
    assert after["rss"] >= after["pss"] > 0 and after["anon"] > 0


def test_table_has_a_row_per_process_and_a_total():
    memory = {"rss": 10.0, "pss": 5.0, "anon": 4.0, "shm": 1.0}
    text = table([("text_rec", memory), ("text_rec", memory)])
    assert "| text_rec | 10 | 5 | 4 | 1 |" in text
    assert text.splitlines()[-1] == "| **total** | 20 | 10 | 8 | 2 |"
