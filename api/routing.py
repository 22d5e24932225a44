"""The order in which a request's path is matched against the application's routes.

FastAPI tries the routes in the order they were declared, every route of every router before the one that
matches, and twice for the router that does (once to find it, once inside it): with the hub's sixteen routers
a read of ``/fhir/Patient/{id}`` (the twelfth) or ``/healthz`` (declared last) spent a few hundred
microseconds of CPU on routing alone. :class:`HubAPI` tries the routers that clinicians read most first; the
OpenAPI document and ``app.routes`` keep the declared order.

Moving a router ahead changes no answer only when no other route can match any path under its prefix (a
route matches a request fully, or by path alone for a 405, only where its path template can), which
:meth:`HubAPI.match_first` checks, from the path templates, before moving anything.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount


def _templates(route: BaseRoute) -> Iterator[tuple[str, bool]]:
    """The path templates a top-level route matches: ``(template, matches_below)`` where ``matches_below``
    says it also matches longer paths (a mount)."""
    original = getattr(route, "original_router", None)  # an included router (its routes carry its prefix)
    if original is not None:
        for child in original.routes:
            yield from _templates(child)
    elif isinstance(route, Mount):
        yield route.path, True
    elif isinstance(getattr(route, "path", None), str):
        yield route.path, False  # type: ignore[attr-defined]
    else:
        raise ValueError(f"cannot tell which paths {route!r} matches")


def _within(template: str, prefix: str) -> bool:
    """Every path ``template`` matches (or, for a mount, every path below it) is ``prefix`` or under it."""
    return template == prefix or template.startswith(f"{prefix}/")


def _may_reach(template: str, below: bool, prefix: str) -> bool:
    """``template`` may match ``prefix`` or a path under it. With parameters (or a mount) it matches paths
    that start with its literal head, which may be such a path if the head is a start of the prefix (a
    parameter may match the rest, slashes included for ``:path``) or lies under the prefix."""
    head = template.split("{", 1)[0]
    if head != template or below:
        return prefix.startswith(head) or head.startswith(f"{prefix}/")
    return _within(template, prefix)


class HubAPI(FastAPI):
    """A FastAPI application whose routes under some path prefixes are matched first
    (:meth:`match_first`); ``routes`` (and so the OpenAPI document) keeps the declared order."""

    _declared: dict[int, int] | None = None

    @property
    def routes(self) -> list[BaseRoute]:
        order = self._declared
        if not order:
            return self.router.routes
        return sorted(self.router.routes, key=lambda r: order.get(id(r), len(order)))

    def match_first(self, *prefixes: str) -> None:
        """Match the top-level routes that lie wholly under one of ``prefixes`` (``/fhir``, ``/healthz``)
        before the others, in the order of ``prefixes``; :class:`ValueError` if any other route could match a
        path under them (then the order would change an answer)."""
        routes = self.router.routes
        if self._declared is None:
            self._declared = {id(r): i for i, r in enumerate(routes)}
        rank: dict[int, int] = {}
        for route in routes:
            templates = list(_templates(route))
            home = next((i for i, p in enumerate(prefixes) if templates and all(_within(t, p) for t, _ in templates)),
                        None)  # fmt: skip
            if home is not None:
                rank[id(route)] = home
                continue
            for prefix in prefixes:
                if any(_may_reach(t, b, prefix) for t, b in templates):
                    raise ValueError(f"{route!r} may match paths under {prefix}: it must stay where it was declared")
        routes.sort(key=lambda r: rank.get(id(r), len(prefixes)))
