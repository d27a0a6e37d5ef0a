"""docs/dashboard-layout.svg is what Scripts/dashboard-layout.py draws from the committed dashboard JSON (regenerate
with `python3 Scripts/dashboard-layout.py` after changing charts/akvs/dashboards/akvs.json)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import observability as obs

GENERATOR = obs.REPO_ROOT / "Scripts" / "dashboard-layout.py"
PICTURE = obs.REPO_ROOT / "docs" / "dashboard-layout.svg"


def test_committed_picture_is_the_generators_output(tmp_path):
    out = tmp_path / "layout.svg"
    proc = subprocess.run([sys.executable, str(GENERATOR), "--output", str(out)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert PICTURE.read_text() == out.read_text(), "docs/dashboard-layout.svg is stale: run python3 Scripts/dashboard-layout.py"
    check = subprocess.run([sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


def test_check_notices_a_change(tmp_path):
    dashboard = obs.load_dashboard()
    dashboard["panels"][1]["title"] = "Renamed"
    changed = tmp_path / "akvs.json"
    changed.write_text(json.dumps(dashboard))
    proc = subprocess.run([sys.executable, str(GENERATOR), "--dashboard", str(changed), "--output", str(PICTURE), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "run Scripts/dashboard-layout.py" in proc.stderr


def test_picture_shows_every_panel():
    root = ElementTree.fromstring(PICTURE.read_text())  # well-formed SVG
    ns = "{http://www.w3.org/2000/svg}"
    groups = [g.find(f"{ns}title").text for g in root.iter(f"{ns}g")]
    assert groups == [p["title"] for p in obs.load_dashboard()["panels"]], "one group per panel, in the dashboard's order"
