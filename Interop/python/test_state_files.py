"""The ready line and the files the emulator writes into its state directory (docs/emulator.md)."""

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

READY_RE = re.compile(r"akvs emulator ready (?P<base>https://\S+) imds=(?P<imds>http://\S+) state-dir=(?P<dir>.+)")


def _ready(emulator):
    match = READY_RE.fullmatch(emulator.ready_line)
    assert match, f"ready line does not have the documented shape: {emulator.ready_line!r}"
    return match


def test_ready_line_names_listeners_and_state_dir(emulator):
    match = _ready(emulator)
    base = urlsplit(match["base"])
    assert base.hostname == "localhost" and base.port, match["base"]
    imds = urlsplit(match["imds"])
    assert imds.hostname == "127.0.0.1" and imds.port, match["imds"]
    assert Path(match["dir"]).resolve() == emulator.state_dir.resolve()
    extra = [line for line in emulator.stdout_lines if line.startswith("akvs emulator ready")]
    assert len(extra) == 1, f"expected exactly one ready line on stdout, got {extra}"


def test_credentials_json_matches_ready_line_and_seed(emulator, credentials, seed):
    match = _ready(emulator)
    port = urlsplit(match["base"]).port
    assert credentials["tenantId"] == seed.tenant_id
    assert credentials["authorityHost"].rstrip("/") == f"https://localhost:{port}"
    assert urlsplit(credentials["imdsEndpoint"]).netloc == urlsplit(match["imds"]).netloc
    assert credentials["clientId"] and credentials["clientSecret"]
    assert Path(credentials["caFile"]).resolve() == (emulator.state_dir / "ca.pem").resolve()
    if "resource" in credentials:
        assert credentials["resource"].rstrip("/") == f"https://vault.localhost:{port}"


def test_vault_urls_use_vault_localhost_hosts(emulator, credentials, seed):
    port = urlsplit(_ready(emulator)["base"]).port
    urls = credentials["vaultUrls"]
    for name in (seed.vault, seed.other_vault):
        assert name in urls, f"vaultUrls lacks {name}: {urls}"
        parts = urlsplit(urls[name])
        assert parts.scheme == "https"
        assert parts.netloc == f"{name}.vault.localhost:{port}", urls[name]
        assert parts.path in ("", "/"), urls[name]


def test_cloud_json_is_an_environment_file(emulator, credentials):
    port = urlsplit(_ready(emulator)["base"]).port
    path = Path(credentials.get("cloudEnvFile") or emulator.state_dir / "cloud.json")
    assert path.is_file(), f"{path} missing"
    cloud = json.loads(path.read_text(encoding="utf-8"))
    for name in ("name", "activeDirectoryEndpoint", "keyVaultDNSSuffix", "keyVaultEndpoint", "resourceIdentifiers"):
        assert name in cloud, f"cloud.json lacks {name}: {sorted(cloud)}"
    assert "keyVault" in cloud["resourceIdentifiers"], cloud["resourceIdentifiers"]
    assert cloud.get("akvsConnectAddress") == f"127.0.0.1:{port}", cloud.get("akvsConnectAddress")
