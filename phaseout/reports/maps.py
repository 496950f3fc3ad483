"""A map of a city's counties coloured by progress, drawn on the server as SVG.

The outlines are shipped as data (`phaseout/data/territory_outlines.json`, decoded from the MIT
ECharts map files by `tools/extract_outlines.py`); nothing is fetched when a page is drawn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

OUTLINES = Path(__file__).resolve().parent.parent / "data" / "territory_outlines.json"

# Five classes of progress (ColorBrewer "Greens"), then the two cases without a figure.
BINS = (
    (0, "#edf8e9"),
    (20, "#bae4b3"),
    (40, "#74c476"),
    (60, "#31a354"),
    (80, "#006d2c"),
)
NO_CASES = "#e2e8f0"
OUT_OF_SCOPE = "#ffffff"
WIDTH = 560


@dataclass(frozen=True)
class Progress:
    """The year's cases of one territory: found, and settled (exited or closed compliant)."""

    found: int
    settled: int

    @property
    def percent(self) -> int:
        # Rounded down, so 100 % means every case is settled.
        return self.settled * 100 // self.found if self.found else 0


def colour(progress: Progress | None) -> str:
    if progress is None:
        return OUT_OF_SCOPE
    if progress.found == 0:
        return NO_CASES
    fill = BINS[0][1]
    for lower, shade in BINS:
        if progress.percent >= lower:
            fill = shade
    return fill


@lru_cache(maxsize=1)
def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(OUTLINES.read_text(encoding="utf-8"))
    return data


def outlines() -> dict[str, dict[str, Any]]:
    """GB/T 2260 code → its GeoJSON feature."""
    return {feature["id"]: feature for feature in _shipped()["features"]}


def source() -> dict[str, str]:
    """Where the outlines come from (package, version, licence, archive checksum)."""
    data: dict[str, str] = _shipped()["source"]
    return data


def _rings(feature: Mapping[str, Any]) -> list[list[list[float]]]:
    geometry = feature["geometry"]
    if geometry["type"] == "Polygon":
        return list(geometry["coordinates"])
    return [ring for polygon in geometry["coordinates"] for ring in polygon]


def _centroid(ring: list[tuple[float, float]]) -> tuple[float, float]:
    """The area centroid of a closed ring (shoelace), where the county's name is written."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
        cross = x0 * y1 - x1 * y0
        area += cross
        cx += (x0 + x1) * cross
        cy += (y0 + y1) * cross
    if abs(area) < 1e-9:
        return sum(x for x, _y in ring) / len(ring), sum(y for _x, y in ring) / len(ring)
    return cx / (3 * area), cy / (3 * area)


def _apart(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) + abs(a[1] - b[1]) >= 0.8


@lru_cache(maxsize=8)
def _layout(city: str) -> tuple[tuple[tuple[str, str, float, float], ...], int]:
    """Each county of the city as (code, SVG path, label x, label y), and the drawing's height.

    An equirectangular projection scaled by the cosine of the middle latitude; points that fall on
    the same pixel as the one before are dropped, which keeps the drawing small."""
    features = [f for f in outlines().values() if f["properties"]["city"] == city]
    if not features:
        return (), 0
    points = [point for f in features for ring in _rings(f) for point in ring]
    west = min(p[0] for p in points)
    east = max(p[0] for p in points)
    south = min(p[1] for p in points)
    north = max(p[1] for p in points)
    squeeze = math.cos(math.radians((north + south) / 2))
    scale = (WIDTH - 20) / ((east - west) * squeeze)
    height = round((north - south) * scale) + 20

    def at(lon: float, lat: float) -> tuple[float, float]:
        return round(10 + (lon - west) * squeeze * scale, 1), round(10 + (north - lat) * scale, 1)

    drawn = []
    for feature in sorted(features, key=lambda f: str(f["id"])):
        parts = []
        largest: list[tuple[float, float]] = []
        for ring in _rings(feature):
            projected: list[tuple[float, float]] = []
            for lon, lat in ring:
                point = at(lon, lat)
                if not projected or _apart(point, projected[-1]):
                    projected.append(point)
            if len(projected) < 3:
                continue
            if len(projected) > len(largest):
                largest = projected
            parts.append("M" + "L".join(f"{x:g} {y:g}" for x, y in projected) + "Z")
        if not largest:
            continue  # too small to draw at this scale
        label_x, label_y = _centroid(largest)
        drawn.append((str(feature["id"]), "".join(parts), round(label_x, 1), round(label_y, 1)))
    return tuple(drawn), height


def progress_map(
    city: str,
    title: str,
    figures: Mapping[str, Progress | None],
    names: Mapping[str, str],
    link: Callable[[str], str],
) -> SafeString:
    """The city's counties, each filled by its progress and linking to its cases.

    `figures` maps a county code to its progress, or to None when it is outside the reader's
    data scope (drawn blank, without figures)."""
    counties, height = _layout(city)
    legend_top = height + 8
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart map" id="map-{escape(city)}" '
        f'viewBox="0 0 {WIDTH} {legend_top + 26 + 70}" width="100%" aria-label={quoteattr(title)}>',
        f'<text x="0" y="18" font-size="15" font-weight="bold">{escape(title)}</text>',
        '<g transform="translate(0 26)">',
    ]
    labels = []
    for code, path, label_x, label_y in counties:
        progress = figures.get(code)
        name = names.get(code, code)
        fill = colour(progress)
        if progress is None:
            tip = _("%(name)s: outside your data scope") % {"name": name}
            parts.append(
                f'<path d="{path}" fill="{fill}" stroke="#a0aec0" stroke-dasharray="3 2" '
                f'data-territory="{code}"><title>{escape(tip)}</title></path>'
            )
            continue
        tip = _("%(name)s: %(settled)d of %(found)d cases settled (%(percent)d%%)") % {
            "name": name,
            "settled": progress.settled,
            "found": progress.found,
            "percent": progress.percent,
        }
        parts.append(
            f"<a href={quoteattr(link(code))}>"
            f'<path d="{path}" fill="{fill}" stroke="#4a5568" stroke-width="0.8" data-territory="{code}" '
            f'data-found="{progress.found}" data-settled="{progress.settled}">'
            f"<title>{escape(tip)}</title></path></a>"
        )
        figure = f"{progress.percent}%" if progress.found else "—"
        text_colour = "#ffffff" if progress.found and progress.percent >= 60 else "#1a202c"
        labels.append(
            f'<text x="{label_x:g}" y="{label_y:g}" font-size="12" text-anchor="middle" '
            f'fill="{text_colour}" pointer-events="none">{escape(name)}'
            f'<tspan x="{label_x:g}" dy="14">{escape(figure)}</tspan></text>'
        )
    parts.extend(labels)
    parts.append("</g>")
    uppers = [lower - 1 for lower, _shade in BINS[1:]] + [100]
    legend = [(shade, f"{lower}–{upper}%") for (lower, shade), upper in zip(BINS, uppers, strict=True)]
    legend += [(NO_CASES, _("no case this year")), (OUT_OF_SCOPE, _("outside your data scope"))]
    for index, (shade, text) in enumerate(legend):
        x = 10 + (index % 4) * 135
        y = legend_top + 26 + 8 + (index // 4) * 22
        parts.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" fill="{shade}" stroke="#a0aec0"/>'
            f'<text x="{x + 20}" y="{y + 12}" font-size="12">{escape(text)}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - built from escaped parts only
