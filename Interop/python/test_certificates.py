"""Certificates: the public DER from CertificateClient and the private key read through SecretClient.

Seeded certificates (seed.yaml): `self-pfx` (self-signed, RSA, PFX), `emu-pfx` (issued by the
emulator's CA through an intermediate, RSA, PFX) and `emu-pem` (emulator-issued, EC P-256, PEM).
"""

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from azure.keyvault.certificates import CertificateClient
from azure.keyvault.keys import KeyClient
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PKCS12 = "application/x-pkcs12"
PEM = "application/x-pem-file"

EXPECTED = {
    "self-pfx": {"cn": "self-pfx.interop.test", "dns": {"self-pfx.interop.test"}, "type": PKCS12, "kty": "RSA"},
    "emu-pfx": {
        "cn": "emu-pfx.interop.test",
        "dns": {"emu-pfx.interop.test", "www.emu-pfx.interop.test"},
        "type": PKCS12,
        "kty": "RSA",
    },
    "emu-pem": {"cn": "emu-pem.interop.test", "dns": {"emu-pem.interop.test"}, "type": PEM, "kty": "EC"},
}

PEM_BLOCK_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.DOTALL)


@pytest.fixture(scope="module")
def cert_client(vault_url, reader_credential):
    client = CertificateClient(vault_url, reader_credential)
    yield client
    client.close()


@pytest.fixture(scope="module")
def key_client(vault_url, reader_credential):
    client = KeyClient(vault_url, reader_credential)
    yield client
    client.close()


def _spki(public_key) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _certificate(cert_client, name):
    bundle = cert_client.get_certificate(name)
    assert bundle.cer, f"certificate {name} has no cer"
    return bundle, x509.load_der_x509_certificate(bytes(bundle.cer))


def _secret_for(reader_secrets, bundle, name, content_type):
    secret = reader_secrets.get_secret(name)
    assert secret.properties.content_type == content_type
    assert secret.properties.managed is True, "a certificate-backed secret must say managed: true"
    assert secret.properties.key_id, "a certificate-backed secret must carry kid"
    assert urlsplit(secret.properties.key_id).path.rstrip("/") == f"/keys/{name}/{bundle.properties.version}", (
        secret.properties.key_id
    )
    assert secret.properties.version == bundle.properties.version, "secret and certificate versions differ"
    return secret


def _load_pfx(secret):
    data = base64.b64decode(secret.value, validate=True)
    key, leaf, additional = pkcs12.load_key_and_certificates(data, None)
    assert key is not None, "the PFX holds no private key"
    assert leaf is not None, "the PFX holds no certificate"
    return key, leaf, list(additional or [])


def _issuer_of(leaf, candidates):
    found = [c for c in candidates if c.subject == leaf.issuer and c.subject != leaf.subject]
    assert found, (
        f"no certificate among {[c.subject.rfc4514_string() for c in candidates]} "
        f"is the issuer {leaf.issuer.rfc4514_string()} of {leaf.subject.rfc4514_string()}"
    )
    return found[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_get_certificate_cer_parses(cert_client, vault_url, name):
    expected = EXPECTED[name]
    bundle, cert = _certificate(cert_client, name)
    assert bundle.name == name
    assert urlsplit(bundle.id).netloc == urlsplit(vault_url).netloc, bundle.id
    assert bundle.key_id and bundle.secret_id, "kid and sid must be set"
    version = bundle.properties.version
    assert urlsplit(bundle.key_id).path.rstrip("/") == f"/keys/{name}/{version}", bundle.key_id
    assert urlsplit(bundle.secret_id).path.rstrip("/") == f"/secrets/{name}/{version}", bundle.secret_id
    assert bundle.properties.x509_thumbprint == hashlib.sha1(bytes(bundle.cer)).digest(), "x5t is not SHA-1(cer)"

    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == expected["cn"]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == expected["dns"]
    public = cert.public_key()
    if expected["kty"] == "RSA":
        assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 2048
    else:
        assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"
    assert bundle.policy is not None and bundle.policy.content_type == expected["type"]


def test_self_signed_pfx_through_secrets(cert_client, reader_secrets):
    name = "self-pfx"
    bundle, cert = _certificate(cert_client, name)
    secret = _secret_for(reader_secrets, bundle, name, PKCS12)
    key, leaf, _ = _load_pfx(secret)
    assert leaf.public_bytes(serialization.Encoding.DER) == bytes(bundle.cer)
    assert _spki(key.public_key()) == _spki(leaf.public_key()), "PFX key does not match the certificate"
    assert leaf.issuer == leaf.subject
    leaf.verify_directly_issued_by(leaf)


def test_emulator_issued_pfx_through_secrets(cert_client, reader_secrets):
    name = "emu-pfx"
    bundle, cert = _certificate(cert_client, name)
    secret = _secret_for(reader_secrets, bundle, name, PKCS12)
    key, leaf, additional = _load_pfx(secret)
    assert leaf.public_bytes(serialization.Encoding.DER) == bytes(bundle.cer)
    assert _spki(key.public_key()) == _spki(leaf.public_key()), "PFX key does not match the certificate"
    assert leaf.issuer != leaf.subject, "an Emulator-issued certificate must not be self-signed"
    intermediate = _issuer_of(leaf, additional)
    assert leaf.issuer == intermediate.subject
    leaf.verify_directly_issued_by(intermediate)  # raises InvalidSignature / ValueError on mismatch
    constraints = intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True, "the intermediate is not a CA certificate"


def test_emulator_chain_ends_at_the_emulator_ca(cert_client, reader_secrets, credentials):
    roots = x509.load_pem_x509_certificates(Path(credentials["caFile"]).read_bytes())
    secret = reader_secrets.get_secret("emu-pfx")
    _, leaf, additional = _load_pfx(secret)
    intermediate = _issuer_of(leaf, additional)
    root = _issuer_of(intermediate, roots)
    intermediate.verify_directly_issued_by(root)


def test_emulator_issued_pem_through_secrets(cert_client, reader_secrets):
    name = "emu-pem"
    bundle, cert = _certificate(cert_client, name)
    secret = _secret_for(reader_secrets, bundle, name, PEM)
    value = secret.value
    assert value.startswith("-----BEGIN PRIVATE KEY-----"), value[:80]
    blocks = [(m.group(1), m.group(0)) for m in PEM_BLOCK_RE.finditer(value)]
    labels = [label for label, _ in blocks]
    assert labels[0] == "PRIVATE KEY" and labels[1:] and all(l == "CERTIFICATE" for l in labels[1:]), labels
    key = serialization.load_pem_private_key(blocks[0][1].encode(), password=None)
    certs = [x509.load_pem_x509_certificate(block.encode()) for _, block in blocks[1:]]
    leaf = certs[0]
    assert leaf.public_bytes(serialization.Encoding.DER) == bytes(bundle.cer), "the first certificate is not the leaf"
    assert _spki(key.public_key()) == _spki(leaf.public_key()), "PEM key does not match the leaf"
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert len(certs) >= 2, "the PEM holds no chain after the leaf"
    assert leaf.issuer == certs[1].subject, "certificates are not in leaf-first order"
    leaf.verify_directly_issued_by(certs[1])


def test_certificate_backed_key_is_the_certificate_key(cert_client, key_client):
    name = "emu-pfx"
    bundle, cert = _certificate(cert_client, name)
    key = key_client.get_key(name)
    assert key.properties.version == bundle.properties.version
    assert key.properties.managed is True
    numbers = cert.public_key().public_numbers()
    assert int.from_bytes(key.key.n, "big") == numbers.n
    assert int.from_bytes(key.key.e, "big") == numbers.e
