"""Server-rendered SVG charts for the dashboard: no JavaScript, nothing fetched by the browser.

Every text is escaped; the output is a complete ``<svg>`` element with a ``<title>`` for screen readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#2f6db5", "#e08a1e", "#3a9a5b", "#b23a48", "#7a4fb3", "#6b7b8c", "#c9a227")
WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 56


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = float(10 ** (len(str(int(value))) - 1))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return 10.0 * magnitude


def _frame(title: str, top: float, labels: Sequence[str], plot_w: float, ident: str) -> list[str]:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" id="{escape(ident)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" aria-labelledby="{escape(ident)}-title">',
        f'<title id="{escape(ident)}-title">{escape(title)}</title>',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(5):
        y = TOP + plot_h * i / 4
        value = top * (4 - i) / 4
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dde"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{value:,g}</text>')
    step = max(1, len(labels) // 14)
    slot = plot_w / max(1, len(labels))
    for i, label in enumerate(labels):
        if i % step == 0:
            x = LEFT + slot * (i + 0.5)
            out.append(
                f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" text-anchor="end" '
                f'transform="rotate(-35 {x:.1f} {HEIGHT - BOTTOM + 14})">{escape(label)}</text>'
            )
    return out


def _legend(names: Sequence[str]) -> list[str]:
    out = []
    x = LEFT
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        out.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + 14}" y="{HEIGHT - 5}" font-size="11">{escape(name)}</text>')
        x += 24 + 7 * len(name)
    return out


def bar_chart(title: str, labels: Sequence[str], series: dict[str, Sequence[float]], ident: str) -> Markup:
    """Grouped vertical bars: one group per label, one bar per series."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max((v for vs in series.values() for v in vs), default=0))
    out = _frame(title, top, labels, plot_w, ident)
    slot = plot_w / max(1, len(labels))
    bar = slot * 0.8 / max(1, len(series))
    for s, (name, values) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        for i, value in enumerate(values):
            h = plot_h * value / top
            x = LEFT + slot * i + slot * 0.1 + bar * s
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(labels[i])} — {escape(name)}: {value:,.0f}</title></rect>'
            )
    out += _legend(list(series))
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704 - every text above is escaped


def line_chart(
    title: str, labels: Sequence[str], series: dict[str, Sequence[float]], ident: str,
    marks: dict[str, Sequence[bool]] | None = None,
) -> Markup:  # fmt: skip
    """One line per series; ``marks`` circles the points flagged (alerts) in red."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = _nice_max(max((v for vs in series.values() for v in vs), default=0))
    out = _frame(title, top, labels, plot_w, ident)
    slot = plot_w / max(1, len(labels))
    for s, (name, values) in enumerate(series.items()):
        colour = PALETTE[s % len(PALETTE)]
        points = [(LEFT + slot * (i + 0.5), TOP + plot_h - plot_h * v / top) for i, v in enumerate(values)]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline class="line" points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, flagged in enumerate((marks or {}).get(name, ())):
            if flagged:
                x, y = points[i]
                out.append(
                    f'<circle class="alert-mark" cx="{x:.1f}" cy="{y:.1f}" r="5" fill="none" stroke="#c00" '
                    f'stroke-width="2"><title>{escape(labels[i])} — {escape(name)}</title></circle>'
                )
    out += _legend(list(series))
    out.append("</svg>")
    return Markup("".join(out))  # noqa: S704


def sparkline(values: Sequence[float], *, width: int = 120, height: int = 28, title: str = "") -> Markup:
    """A small trend line through the values (a lab test's results, oldest left), the last point marked;
    empty for fewer than two values. Sized to sit in a table cell, printed as is."""
    if len(values) < 2:
        return Markup("")
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    pad = 3
    step = (width - 2 * pad) / (len(values) - 1)
    points = [(pad + i * step, height - pad - (v - low) / span * (height - 2 * pad)) for i, v in enumerate(values)]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    lx, ly = points[-1]
    # every interpolated value is a number formatted here or the escaped title
    return Markup(  # noqa: S704
        f'<svg class="trend" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>{escape(title)}</title>"
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{path}"/>'
        f'<circle cx="{lx:.1f}" cy="{ly:.1f}" r="2.5" fill="currentColor"/></svg>'
    )
