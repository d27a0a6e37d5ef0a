"""Certificate operations through the SDK's own pollers: CertificateClient.begin_create_certificate
(its poller reads the operation from `…/pending` and parses its `id` and `target`), the operation
getter and delete, import, and begin_delete_certificate. Uses the admin identity (write access)."""

import uuid

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.certificates import (CertificateClient, CertificateContentType, CertificatePolicy,
                                         KeyVaultCertificateIdentifier, WellKnownIssuerNames)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import datetime


@pytest.fixture(scope="module")
def admin_certs(vault_url, admin_credential):
    client = CertificateClient(vault_url, admin_credential)
    yield client
    client.close()


def _name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _check_operation(operation, vault_url, name):
    # The SDK parses these ids; a malformed one ('https:/host/...') raises ValueError here.
    parsed = KeyVaultCertificateIdentifier(operation.id)
    assert parsed.vault_url.rstrip("/") == vault_url.rstrip("/")
    assert parsed.name == name
    assert operation.id == f"{vault_url.rstrip('/')}/certificates/{name}/pending"
    assert operation.target == f"{vault_url.rstrip('/')}/certificates/{name}"
    assert operation.status == "completed"


@pytest.mark.parametrize("issuer", [WellKnownIssuerNames.self, "Emulator"])
def test_create_poller_returns_the_certificate(admin_certs, vault_url, issuer):
    name = _name("poll")
    policy = CertificatePolicy(issuer_name=issuer, subject=f"CN={name}.interop.test", san_dns_names=[f"{name}.interop.test"],
                               content_type=CertificateContentType.pem, validity_in_months=12)
    poller = admin_certs.begin_create_certificate(name, policy)
    certificate = poller.result()
    assert poller.done()
    assert certificate.name == name
    assert KeyVaultCertificateIdentifier(certificate.id).version == certificate.properties.version
    cert = x509.load_der_x509_certificate(bytes(certificate.cer))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"{name}.interop.test"
    _check_operation(admin_certs.get_certificate_operation(name), vault_url, name)


def test_operation_delete_then_gone(admin_certs, vault_url):
    name = _name("op")
    admin_certs.begin_create_certificate(name, CertificatePolicy.get_default()).result()
    _check_operation(admin_certs.get_certificate_operation(name), vault_url, name)
    deleted = admin_certs.delete_certificate_operation(name)
    _check_operation(deleted, vault_url, name)
    with pytest.raises(ResourceNotFoundError):
        admin_certs.get_certificate_operation(name)
    with pytest.raises(ResourceNotFoundError):
        admin_certs.delete_certificate_operation(name)
    # A new version brings a new operation back.
    admin_certs.begin_create_certificate(name, CertificatePolicy.get_default()).result()
    _check_operation(admin_certs.get_certificate_operation(name), vault_url, name)


def test_operation_of_an_unknown_certificate_is_not_found(admin_certs):
    with pytest.raises(ResourceNotFoundError):
        admin_certs.get_certificate_operation(_name("missing"))


def test_import_then_get(admin_certs, vault_url):
    name = _name("imp")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}.interop.test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()) + \
        cert.public_bytes(serialization.Encoding.PEM)
    imported = admin_certs.import_certificate(name, pem, policy=CertificatePolicy(content_type=CertificateContentType.pem, issuer_name="Unknown"))
    assert imported.name == name
    fetched = admin_certs.get_certificate(name)
    assert bytes(fetched.cer) == cert.public_bytes(serialization.Encoding.DER)
    assert fetched.properties.version == imported.properties.version
