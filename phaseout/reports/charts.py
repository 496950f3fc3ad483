"""Charts drawn on the server as SVG: no script, no library fetched from anywhere, printable."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#b7791f", "#6b46c1", "#c53030")


def bars(title: str, items: Sequence[tuple[str, float]], *, unit: str = "", chart_id: str = "") -> SafeString:
    """A horizontal bar chart; every label and number is escaped."""
    width, row, left = 640, 26, 170
    height = 34 + row * max(len(items), 1)
    top = max((value for _label, value in items), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" id="{escape(chart_id)}" '
        f'viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">',
        f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    for index, (label, value) in enumerate(items):
        y = 30 + index * row
        length = (width - left - 90) * value / top
        number = f"{value:g}{(' ' + unit) if unit else ''}"
        parts.append(
            f'<text x="{left - 8}" y="{y + 15}" font-size="13" text-anchor="end">{escape(label)}</text>'
        )
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{length:.1f}" height="16" fill="{colour}">'
            f"<title>{escape(label)}：{escape(number)}</title></rect>"
        )
        end = left + length + 6
        parts.append(f'<text x="{end:.1f}" y="{y + 15}" font-size="13" class="value">{escape(number)}</text>')
    if not items:
        parts.append('<text x="0" y="48" font-size="13">—</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped parts only
