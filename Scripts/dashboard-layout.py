#!/usr/bin/env python3
"""Draws the layout of the akvs Grafana dashboard as an SVG: every panel at its grid position (Grafana's grid: 24
columns, rows of 30 px) with its title, type and queries (as many lines as fit), the rows as bands. Reads the
dashboard JSON only, needs nothing but Python, and writes the same bytes for the same dashboard.

Usage: Scripts/dashboard-layout.py [--dashboard FILE] [--output FILE] [--check]
  default dashboard charts/akvs/dashboards/akvs.json, default output docs/dashboard-layout.svg;
  --check: write nothing, exit 1 when the output file differs from what the dashboard gives.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "charts" / "akvs" / "dashboards" / "akvs.json"
OUTPUT = ROOT / "docs" / "dashboard-layout.svg"

COLUMN = 40  # px per grid column (24 columns: 960 px)
UNIT = 30  # px per grid row, as Grafana draws it
MARGIN = 20
HEADER = 56
GAP = 3  # px between neighbouring panels
CHAR = 6.6  # average width of a 12 px sans-serif character, for wrapping
MONO = 6.0  # width of a 10 px monospace character
QUERY_LINE = 12  # px per query line
FILL: Dict[str, str] = {"stat": "#dff3e4", "table": "#dde9f7", "timeseries": "#fdf1d8"}
STROKE: Dict[str, str] = {"stat": "#3f8f55", "table": "#3b6fb0", "timeseries": "#b7862b"}
NAME = {"stat": "stat", "table": "table", "timeseries": "time series"}


def wrap(text: str, width_px: float) -> List[str]:
    limit = max(8, int(width_px / CHAR))
    lines: List[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= limit:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def wrap_query(expr: str, width_px: float) -> List[str]:
    """A query on lines of at most the width, broken at spaces where it can."""
    limit = max(10, int(width_px / MONO))
    text = " ".join(expr.split())
    lines: List[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", 0, limit + 1)
        cut = cut if cut > limit // 2 else limit
        lines.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return lines + [text]


def svg(dashboard: dict) -> str:
    panels = dashboard["panels"]
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    width = 24 * COLUMN + 2 * MARGIN
    legend_y = HEADER + bottom * UNIT + 16
    height = legend_y + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'font-family="Helvetica, Arial, sans-serif">',
        f'<title>{escape(dashboard["title"])} dashboard layout</title>',
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="28" font-size="18" font-weight="bold" fill="#222222">Grafana dashboard "{escape(dashboard["title"])}" '
        f'(uid {escape(dashboard["uid"])})</text>',
        f'<text x="{MARGIN}" y="46" font-size="12" fill="#555555">{sum(1 for p in panels if p["type"] != "row")} panels on a '
        '24-column grid, drawn by Scripts/dashboard-layout.py from charts/akvs/dashboards/akvs.json</text>',
    ]
    for p in panels:
        g = p["gridPos"]
        x = MARGIN + g["x"] * COLUMN + GAP
        y = HEADER + g["y"] * UNIT + GAP
        w = g["w"] * COLUMN - 2 * GAP
        h = g["h"] * UNIT - 2 * GAP
        title = escape(p["title"])
        out.append(f'<g><title>{title}</title>')
        if p["type"] == "row":
            out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="#3a3f4b" rx="2"/>')
            out.append(f'<text x="{x + 8}" y="{y + h / 2 + 5:.0f}" font-size="14" font-weight="bold" fill="#ffffff">{title}</text>')
            out.append("</g>")
            continue
        kind = p["type"]
        queries = len(p.get("targets", []))
        out.append(f'<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{FILL.get(kind, "#eeeeee")}" '
                   f'stroke="{STROKE.get(kind, "#888888")}" stroke-width="1.5" rx="4"/>')
        title_lines = wrap(p["title"], w - 16)
        for i, line in enumerate(title_lines):
            out.append(f'<text x="{x + 8}" y="{y + 20 + 15 * i}" font-size="12" font-weight="bold" fill="#222222">{escape(line)}</text>')
        top = y + 20 + 15 * (len(title_lines) - 1) + 18
        room = int((y + h - 24 - top) / QUERY_LINE) + 1
        lines: List[str] = []
        for target in p.get("targets", []):
            lines += wrap_query(f'{target["refId"]}: {target["expr"]}', w - 16)
        if len(lines) > room:
            lines = lines[:max(room, 0)]
            if lines:
                lines[-1] = lines[-1][:max(0, len(lines[-1]) - 1)] + "…"
        for i, line in enumerate(lines):
            out.append(f'<text x="{x + 8}" y="{top + QUERY_LINE * i}" font-size="10" font-family="DejaVu Sans Mono, Menlo, monospace" '
                       f'fill="#444444" xml:space="preserve">{escape(line)}</text>')
        detail = f'{NAME.get(kind, kind)}, {queries} quer{"y" if queries == 1 else "ies"}'
        out.append(f'<text x="{x + 8}" y="{y + h - 8}" font-size="11" fill="#555555">{escape(detail)}</text>')
        out.append("</g>")
    x = MARGIN
    for kind in ("stat", "table", "timeseries"):
        out.append(f'<rect x="{x}" y="{legend_y}" width="16" height="12" fill="{FILL[kind]}" stroke="{STROKE[kind]}" stroke-width="1.5" rx="2"/>')
        out.append(f'<text x="{x + 22}" y="{legend_y + 11}" font-size="12" fill="#333333">{NAME[kind]}</text>')
        x += 120
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    text = svg(json.loads(args.dashboard.read_text()))
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is not the layout of {args.dashboard}: run Scripts/dashboard-layout.py", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
