"""Charts drawn on the server as SVG, readable without colour alone.

Every bar carries its number as text and a <title>; a second series is
hatched as well as coloured, and named in a legend; each chart has a table
of the same figures under it (and a CSV download, console/app.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

# Drawn small and scaled up by the browser: on a phone the text stays about 12 px.
WIDTH = 420
ROW = 28
LABEL_W = 150
LABEL_CHARS = 22


def _fmt(n: float) -> str:
    return f"{n:,.0f}".replace(",", ".") if float(n).is_integer() else f"{n:.1f}".replace(".", ",")


def hbar(title: str, rows: Sequence[tuple[str, float]], unit: str = "") -> Markup:
    """Horizontal bars, one per labelled value, the value written at the bar's end."""
    if not rows:
        return Markup('<p class="empty">Chưa có số liệu trong khoảng thời gian này.</p>')
    top = max(v for _, v in rows) or 1
    height = ROW * len(rows) + 10
    bar_max = WIDTH - LABEL_W - 50
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(rows):
        y = 5 + i * ROW
        w = max(1, round(bar_max * value / top)) if value else 0
        short = label if len(label) <= LABEL_CHARS else label[:LABEL_CHARS - 1] + "…"
        parts.append(
            f'<g class="bar" data-label="{escape(label)}" data-value="{_fmt(value)}">'
            f"<title>{escape(label)}: {_fmt(value)}{escape(unit)}</title>"
            f'<text x="{LABEL_W - 6}" y="{y + 16}" text-anchor="end">{escape(short)}</text>'
            f'<rect x="{LABEL_W}" y="{y + 3}" width="{w}" height="{ROW - 8}" class="s1"/>'
            f'<text x="{LABEL_W + w + 6}" y="{y + 16}" class="value">{_fmt(value)}{escape(unit)}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def days_bars(title: str, days: Sequence[str], series: Sequence[tuple[str, Sequence[int]]]) -> Markup:
    """Stacked bars per day: the first series solid, the second hatched; totals above each bar."""
    height, bottom, left = 200, 170, 30
    n = max(1, len(days))
    step = (WIDTH - left - 10) / n
    totals = [sum(values[i] for _, values in series) for i in range(len(days))]
    top = max(totals or [0]) or 1
    scale = (bottom - 20) / top
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height + 30}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             '<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
             'patternTransform="rotate(45)"><rect width="6" height="6" class="s2"/>'
             '<line x1="0" y1="0" x2="0" y2="6" class="hatch-line"/></pattern></defs>',
             f'<line x1="{left}" y1="{bottom}" x2="{WIDTH - 5}" y2="{bottom}" class="axis"/>',
             f'<text x="{left - 4}" y="{bottom - (bottom - 20) + 4}" text-anchor="end" class="tick">{_fmt(top)}</text>',
             f'<text x="{left - 4}" y="{bottom}" text-anchor="end" class="tick">0</text>']
    for i, day in enumerate(days):
        x = left + i * step + step * 0.15
        w = max(1.0, step * 0.7)
        y = bottom
        label = f"{day[8:10]}/{day[5:7]}"
        figures = ", ".join(f"{name}: {values[i]}" for name, values in series)
        parts.append(f'<g class="day" data-day="{day}" data-total="{totals[i]}">'
                     f"<title>{label}: {escape(figures)}</title>")
        for k, (name, values) in enumerate(series):
            h = values[i] * scale
            y -= h
            fill = 'class="s1"' if k == 0 else 'fill="url(#hatch)" class="s2b"'
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" {fill} '
                         f'data-series="{escape(name)}" data-value="{values[i]}"/>')
        if totals[i] and n <= 14:
            parts.append(f'<text x="{x + w / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle" class="value small">'
                         f"{totals[i]}</text>")
        if n <= 7 or i % max(1, -(-n // 6)) == 0:
            parts.append(f'<text x="{x + w / 2:.1f}" y="{bottom + 14}" text-anchor="middle" class="tick">{label}</text>')
        parts.append("</g>")
    legend_y = height + 12
    for k, (name, _) in enumerate(series):
        lx = left + k * 190 - 30
        fill = 'class="s1"' if k == 0 else 'fill="url(#hatch)" class="s2b"'
        parts.append(f'<rect x="{lx}" y="{legend_y}" width="14" height="14" {fill}/>'
                     f'<text x="{lx + 20}" y="{legend_y + 12}">{escape(name)}'
                     f'{" (kẻ sọc)" if k else " (tô đặc)"}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
