"""Connected components of record links (union-find): how pairwise links become clusters.

Used by batch clustering (`linkage.batch.cluster`), the metrics (`linkage.metrics`) and the MPI's
evaluation (joining persons the way a merge does).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable

__all__ = ["clusters_from_links"]

Pair = tuple[Hashable, Hashable]


def clusters_from_links(records: Iterable[Hashable], links: Iterable[Pair]) -> list[list[Hashable]]:
    """Connected components (union-find) of `links` over `records`; singletons included."""
    parent: dict[Hashable, Hashable] = {r: r for r in records}

    def find(x: Hashable) -> Hashable:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for a, b in links:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra
    groups: dict[Hashable, list[Hashable]] = defaultdict(list)
    for record in parent:
        groups[find(record)].append(record)
    return list(groups.values())
