"""checkov on every rendered combination of the chart: each finding is in checkov-allowlist.yaml with its reason,
and each allowlist entry still fires (nothing stale). One checkov run over one folder (checkov_scan.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import checkov_scan as scan


def pinned_checkov_version() -> str:
    text = (Path(__file__).parent / "requirements.txt").read_text()
    m = re.search(r"^checkov==(\S+)$", text, re.M)
    assert m, "requirements.txt must pin checkov (checkov==X.Y.Z)"
    return m.group(1)


@pytest.fixture(scope="module")
def scanned(helm, tmp_path_factory):
    if scan.checkov_binary() is None:
        pytest.fail("checkov is not installed: pip install -r Interop/chart/requirements.txt", pytrace=False)
    directory = tmp_path_factory.mktemp("checkov")
    rendered = scan.render_all(helm, directory)
    reports = scan.run_checkov(directory)
    return rendered, reports


def test_checkov_is_the_pinned_version(scanned):
    _, reports = scanned
    versions = {r.get("summary", {}).get("checkov_version") for r in reports}
    assert versions == {pinned_checkov_version()}, (
        f"checkov {versions} ran, requirements.txt pins {pinned_checkov_version()}: pip install -r Interop/chart/requirements.txt")


def test_every_combination_was_scanned(scanned):
    rendered, reports = scanned
    assert set(rendered) == set(scan.COMBINATIONS)
    summaries = [r["summary"] for r in reports]
    assert sum(s["resource_count"] for s in summaries) > 0 and not any(s["parsing_errors"] for s in summaries), summaries


def test_findings_are_exactly_the_allowlist(scanned):
    rendered, reports = scanned
    found = scan.findings(reports)
    allowed = scan.expected(scan.load_allowlist(), rendered)
    new = sorted(found - set(allowed))
    stale = sorted(set(allowed) - found)
    messages = [f"new finding {check} on {resource} in combination {combo}: fix the template, or add it to "
                f"Interop/chart/checkov-allowlist.yaml with the reason it must stay" for check, resource, combo in new]
    messages += [f"allowlist entry {check} {resource} no longer fires in combination {combo}: remove it "
                 f"(or narrow it with only/except)" for check, resource, combo in stale]
    if messages:
        pytest.fail("\n".join(messages), pytrace=False)


def test_allowlist_entries_are_unique_and_explained():
    entries = scan.load_allowlist()["findings"]
    keys = [(e["check"], e["resource"]) for e in entries]
    assert len(keys) == len(set(keys)), "one entry per check and resource"
    for e in entries:
        assert set(e) <= {"check", "resource", "reason", "only", "except"}, e
        assert len(e["reason"]) > 40, f"{e['check']} {e['resource']}: say why it must stay"
        for combo in (e.get("only") or []) + (e.get("except") or []):
            assert combo in scan.COMBINATIONS, f"{e['check']} {e['resource']}: unknown combination {combo}"


def test_resource_keys():
    """Graph-check ids carry the workload's labels; names drop the combination's release prefix."""
    assert scan.resource_key("DaemonSet.csi.csi-akvs-secrets-store-csi-driver", "csi") == "DaemonSet/akvs-secrets-store-csi-driver"
    assert scan.resource_key("Pod.both.both-akvs-secrets-store-sync-controller.app-x.y-z", "both") == "Pod/akvs-secrets-store-sync-controller"
    assert scan.resource_key("ClusterRoleBinding.default.everything-akvs-x", "everything") == "ClusterRoleBinding/akvs-x"
