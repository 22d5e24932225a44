"""The heap of a long-lived process (a server worker, an intake process) after its start-up."""

from __future__ import annotations

import gc


def freeze_start_up() -> None:
    """Move every object alive now (modules, models, the linker's tables, pools: a few hundred thousand
    objects once a process has started) out of the cyclic garbage collector's reach. Without it each full
    collection walks them all again: 40-220 ms of CPU per collection in a server process of the load
    benchmark (``bench/bench_load.py``), during which the process answers nothing. Garbage is collected
    first, so only live objects are frozen; objects created afterwards are collected as usual. For
    long-lived processes only: an object frozen here that later becomes cyclic garbage is never collected."""
    gc.collect()
    gc.freeze()
