"""KeyClient.get_key: the public JWK comes back in a form `cryptography` can rebuild."""

import re
from urllib.parse import urlsplit

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.keys import KeyClient, KeyCurveName, KeyType
from cryptography.hazmat.primitives.asymmetric import ec, rsa

VERSION_RE = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def key_client(vault_url, reader_credential):
    client = KeyClient(vault_url, reader_credential)
    yield client
    client.close()


def _check_key_id(key, vault_url, name):
    parts = urlsplit(key.id)
    assert parts.netloc == urlsplit(vault_url).netloc, key.id
    segments = parts.path.strip("/").split("/")
    assert segments[:2] == ["keys", name] and len(segments) == 3, key.id
    assert VERSION_RE.fullmatch(segments[2]), key.id
    assert key.properties.version == segments[2]


def test_rsa_key_is_a_usable_public_jwk(key_client, vault_url, seed):
    key = key_client.get_key(seed.keys.rsa)
    assert key.name == seed.keys.rsa
    _check_key_id(key, vault_url, seed.keys.rsa)
    assert key.key_type in (KeyType.rsa, KeyType.rsa_hsm)
    jwk = key.key
    assert isinstance(jwk.n, (bytes, bytearray)) and len(jwk.n) == 256, f"n is {len(jwk.n or b'')} bytes"
    assert jwk.e == b"\x01\x00\x01"
    assert jwk.d is None and jwk.p is None and jwk.q is None, "private parts of the key were returned"
    assert key.properties.enabled is True
    public = rsa.RSAPublicNumbers(int.from_bytes(jwk.e, "big"), int.from_bytes(jwk.n, "big")).public_key()
    assert public.key_size == 2048


def test_ec_key_is_a_usable_public_jwk(key_client, vault_url, seed):
    key = key_client.get_key(seed.keys.ec)
    assert key.name == seed.keys.ec
    _check_key_id(key, vault_url, seed.keys.ec)
    assert key.key_type in (KeyType.ec, KeyType.ec_hsm)
    jwk = key.key
    assert jwk.crv == KeyCurveName.p_256
    assert len(jwk.x) == 32 and len(jwk.y) == 32, f"x {len(jwk.x)} bytes, y {len(jwk.y)} bytes"
    assert jwk.d is None, "the private scalar was returned"
    # Raises ValueError if (x, y) is not a point on P-256.
    public = ec.EllipticCurvePublicNumbers(
        int.from_bytes(jwk.x, "big"), int.from_bytes(jwk.y, "big"), ec.SECP256R1()
    ).public_key()
    assert public.curve.name == "secp256r1"


def test_get_key_by_version(key_client, seed):
    latest = key_client.get_key(seed.keys.rsa)
    same = key_client.get_key(seed.keys.rsa, latest.properties.version)
    assert same.id == latest.id
    assert same.key.n == latest.key.n


def test_missing_key_is_resource_not_found(key_client):
    with pytest.raises(ResourceNotFoundError) as info:
        key_client.get_key("no-such-key")
    assert info.value.status_code == 404
    assert info.value.error is not None and info.value.error.code == "KeyNotFound", info.value.message
