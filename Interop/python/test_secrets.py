"""SecretClient + ClientSecretCredential against the emulator (challenge auth, reads, paging, writes, errors).

The clients are built the way an application would build them for Azure; only the vault URL, the
authority and `disable_instance_discovery=True` differ. `verify_challenge_resource` stays on.
"""

import re
import uuid
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

VERSION_RE = re.compile(r"[0-9a-f]{32}")


def _check_id(object_id, vault_url, collection, name):
    parts = urlsplit(object_id)
    assert parts.scheme == "https"
    assert parts.netloc == urlsplit(vault_url).netloc, object_id
    segments = parts.path.strip("/").split("/")
    assert segments[:2] == [collection, name], object_id
    assert len(segments) == 3 and VERSION_RE.fullmatch(segments[2]), f"version is not 32 lowercase hex: {object_id}"
    return segments[2]


def test_get_secret_latest(reader_secrets, vault_url, seed):
    name, value = seed.secrets.plain
    secret = reader_secrets.get_secret(name)
    assert secret.value == value
    assert secret.name == name
    version = _check_id(secret.id, vault_url, "secrets", name)
    assert secret.properties.version == version
    assert secret.properties.content_type == "text/plain"
    assert secret.properties.tags == {"suite": "interop", "kind": "plain"}
    assert secret.properties.enabled is True
    assert isinstance(secret.properties.created_on, datetime)
    assert isinstance(secret.properties.updated_on, datetime)
    assert not secret.properties.managed
    assert secret.properties.key_id is None


def test_get_secret_by_version(reader_secrets, seed):
    name, values = seed.secrets.rotating
    latest = reader_secrets.get_secret(name)
    assert latest.value == values[-1]
    versions = [p.version for p in reader_secrets.list_properties_of_secret_versions(name)]
    assert len(versions) == 3, versions
    assert latest.properties.version in versions
    by_version = {}
    for version in versions:
        secret = reader_secrets.get_secret(name, version)
        assert secret.properties.version == version
        by_version[version] = secret.value
    assert sorted(by_version.values()) == sorted(values)
    assert by_version[latest.properties.version] == values[-1]


def test_list_versions_pages_one_item_at_a_time(reader_secrets, vault_url, seed):
    name, _ = seed.secrets.rotating
    bodies = []

    def keep_body(response):
        # raw_response_hook is azure-core's documented per-call hook; it also sees the 401 probe.
        if response.http_response.status_code == 200:
            bodies.append(response.http_response.json())

    pager = reader_secrets.list_properties_of_secret_versions(name, max_page_size=1, raw_response_hook=keep_body)
    pages = [list(page) for page in pager.by_page()]
    items = [item for page in pages for item in page]

    assert len(items) == 3, f"pages: {[[i.version for i in p] for p in pages]}"
    assert all(len(page) <= 1 for page in pages), "maxresults=1 was not honoured"
    assert len(pages) >= 3
    assert len({item.version for item in items}) == 3
    for item in items:
        assert item.name == name
        _check_id(item.id, vault_url, "secrets", name)

    # On the wire: list items never carry a value; nextLinks point at this vault's host:port.
    assert len(bodies) == len(pages)
    vault_netloc = urlsplit(vault_url).netloc
    for body in bodies:
        for raw in body.get("value", []):
            assert "value" not in raw, f"list item carries a value: {raw}"
        next_link = body.get("nextLink")
        if next_link:
            assert urlsplit(next_link).netloc == vault_netloc, next_link
            assert "$skiptoken=" in next_link, next_link
    assert not bodies[-1].get("nextLink"), "the last page still has a nextLink"


def test_set_secret_creates_a_version_that_get_returns(admin_secrets, reader_secrets, vault_url):
    name = f"written-{uuid.uuid4().hex[:12]}"
    first = admin_secrets.set_secret(name, "first-value", content_type="text/plain", tags={"by": "interop"})
    assert first.value == "first-value"
    _check_id(first.id, vault_url, "secrets", name)
    second = admin_secrets.set_secret(name, "second-value")
    assert second.properties.version != first.properties.version

    latest = reader_secrets.get_secret(name)
    assert latest.value == "second-value"
    assert latest.properties.version == second.properties.version
    older = reader_secrets.get_secret(name, first.properties.version)
    assert older.value == "first-value"
    assert older.properties.content_type == "text/plain"
    assert older.properties.tags == {"by": "interop"}
    versions = {p.version for p in reader_secrets.list_properties_of_secret_versions(name)}
    assert versions == {first.properties.version, second.properties.version}


def test_missing_secret_is_resource_not_found(reader_secrets):
    with pytest.raises(ResourceNotFoundError) as info:
        reader_secrets.get_secret(f"no-such-secret-{uuid.uuid4().hex[:8]}")
    assert info.value.status_code == 404
    assert info.value.error is not None and info.value.error.code == "SecretNotFound", info.value.message


def test_disabled_secret_is_forbidden(reader_secrets, seed):
    with pytest.raises(HttpResponseError) as info:
        reader_secrets.get_secret(seed.secrets.disabled)
    assert info.value.status_code == 403
    assert info.value.error is not None and info.value.error.code == "Forbidden", info.value.message
    inner = info.value.error.innererror or {}
    assert inner.get("code") == "SecretDisabled", f"innererror: {inner}"


def test_outsider_is_forbidden_on_interop_kv(secret_credential, vault_url, seed):
    credential = secret_credential(seed.outsider.client_id, seed.outsider.secret)
    with SecretClient(vault_url, credential) as client:
        with pytest.raises(HttpResponseError) as info:
            client.get_secret(seed.secrets.plain[0])
    assert info.value.status_code == 403
    assert info.value.error is not None and info.value.error.code == "Forbidden", info.value.message


def test_outsider_reads_the_vault_it_has_access_to(secret_credential, other_vault_url, seed):
    name, value = seed.secrets.other
    credential = secret_credential(seed.outsider.client_id, seed.outsider.secret)
    with SecretClient(other_vault_url, credential) as client:
        assert client.get_secret(name).value == value


def test_reader_is_forbidden_on_other_kv(reader_credential, other_vault_url, seed):
    with SecretClient(other_vault_url, reader_credential) as client:
        with pytest.raises(HttpResponseError) as info:
            client.get_secret(seed.secrets.other[0])
    assert info.value.status_code == 403
    assert info.value.error is not None and info.value.error.code == "Forbidden", info.value.message


def test_reader_cannot_write(reader_secrets):
    with pytest.raises(HttpResponseError) as info:
        reader_secrets.set_secret(f"reader-write-{uuid.uuid4().hex[:8]}", "nope")
    assert info.value.status_code == 403
    assert info.value.error is not None and info.value.error.code == "Forbidden", info.value.message


def test_wrong_client_secret_is_aadsts7000215(secret_credential, vault_url, seed):
    credential = secret_credential(seed.reader.client_id, "not-the-secret")
    with SecretClient(vault_url, credential) as client:
        with pytest.raises(ClientAuthenticationError) as info:
            client.get_secret(seed.secrets.plain[0])
    assert "AADSTS7000215" in str(info.value), str(info.value)


def test_unknown_client_id_is_aadsts700016(secret_credential, vault_url, seed):
    credential = secret_credential(str(uuid.uuid4()), "whatever")
    with SecretClient(vault_url, credential) as client:
        with pytest.raises(ClientAuthenticationError) as info:
            client.get_secret(seed.secrets.plain[0])
    assert "AADSTS700016" in str(info.value), str(info.value)
