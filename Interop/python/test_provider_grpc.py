"""`akvs provider` over its unix socket, driven by a Python grpcio client generated at test time
from the project's own Protos/provider/v1alpha1/service.proto, against the emulator."""

import json
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

import provider_stubs
from conftest import SEED, _resolve_binary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    return provider_stubs.generate(tmp_path_factory.mktemp("stubs"))


@pytest.fixture(scope="module")
def provider(credentials, tmp_path_factory):
    sock = tmp_path_factory.mktemp("provider") / "azure.sock"
    healthz, metrics = _free_port(), _free_port()
    process = subprocess.Popen(
        [str(_resolve_binary()), "provider", "--endpoint", f"unix://{sock}", "--healthz-port", str(healthz),
         "--prometheus-port", str(metrics), "--ca-file", credentials["caFile"], "--imds-endpoint", credentials["imdsEndpoint"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("akvs provider ready"), f"provider did not start: {line!r} {process.stderr.read() if process.poll() is not None else ''}"
    yield {"socket": sock, "healthz": healthz, "metrics": metrics}
    process.terminate()
    process.wait(timeout=10)
    assert not sock.exists(), "the provider removes its socket on shutdown"


def _attributes(credentials, objects, **extra):
    items = "".join("  - |\n" + "".join(f"    {k}: {v}\n" for k, v in o.items()) for o in objects)
    attributes = {
        "keyvaultName": SEED.vault, "tenantId": SEED.tenant_id, "cloudName": "AzureStackCloud",
        "cloudEnvFileName": credentials["cloudEnvFile"], "objects": "array:\n" + items,
        "csi.storage.k8s.io/pod.name": "web-0", "csi.storage.k8s.io/pod.namespace": "apps",
        "csi.storage.k8s.io/pod.uid": "0000", "csi.storage.k8s.io/serviceAccount.name": "web",
    }
    attributes.update(extra)
    return json.dumps(attributes)


READER = json.dumps({"clientid": SEED.reader.client_id, "clientsecret": SEED.reader.secret})


def _mount(api, provider, attributes, secrets=READER, permission="420"):
    with grpc.insecure_channel(f"unix://{provider['socket']}") as channel:
        stub = api.CSIDriverProviderStub(channel)
        return stub.Mount(api.MountRequest(attributes=attributes, secrets=secrets, permission=permission, target_path="/unused"), timeout=30)


def test_version(api, provider):
    with grpc.insecure_channel(f"unix://{provider['socket']}") as channel:
        reply = api.CSIDriverProviderStub(channel).Version(api.VersionRequest(version="v1alpha1"), timeout=10)
    assert reply.version == "v1alpha1"
    assert reply.runtime_name and reply.runtime_version


def test_socket_is_private(provider):
    assert (provider["socket"].stat().st_mode & 0o077) == 0


def test_mount_every_format(api, provider, credentials, reader_secrets):
    objects = [
        {"objectName": SEED.secrets.plain[0], "objectType": "secret", "filePermission": '"0600"'},
        {"objectName": SEED.keys.rsa, "objectType": "key"},
        {"objectName": SEED.keys.ec, "objectType": "key"},
        {"objectName": SEED.certs.emu_pfx, "objectType": "cert", "objectAlias": "leaf.crt"},
        {"objectName": SEED.certs.emu_pfx, "objectType": "secret", "objectAlias": "bundle.pem"},
        {"objectName": SEED.certs.emu_pfx, "objectType": "secret", "objectAlias": "bundle.pfx", "objectFormat": "pfx", "objectEncoding": "base64"},
        {"objectName": SEED.secrets.rotating[0], "objectType": "secret", "objectVersionHistory": 2},
    ]
    reply = _mount(api, provider, _attributes(credentials, objects))
    files = {f.path: f for f in reply.files}
    assert files["plain"].contents == SEED.secrets.plain[1].encode() and files["plain"].mode == 0o600
    assert files["rsa-key"].mode == 420
    versions = {v.id: v.version for v in reply.object_version}
    assert versions["secret/plain"] == reader_secrets.get_secret("plain").properties.version

    rsa_pub = serialization.load_pem_public_key(files["rsa-key"].contents)
    assert isinstance(rsa_pub, rsa.RSAPublicKey) and rsa_pub.key_size == 2048
    ec_pub = serialization.load_pem_public_key(files["ec-key"].contents)
    assert isinstance(ec_pub, ec.EllipticCurvePublicKey) and ec_pub.curve.name == "secp256r1"

    leaf_only = x509.load_pem_x509_certificates(files["leaf.crt"].contents)
    assert len(leaf_only) == 1
    pem = files["bundle.pem"].contents
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem, password=None)
    chain = x509.load_pem_x509_certificates(pem)
    assert chain[0] == leaf_only[0], "leaf first"
    assert key.public_key().public_numbers() == chain[0].public_key().public_numbers(), "key pair matches"
    for child, parent in zip(chain, chain[1:]):
        assert child.issuer == parent.subject, "chain order leaf -> intermediate -> root"
        child.verify_directly_issued_by(parent)
    assert chain[-1].subject == chain[-1].issuer
    ca = x509.load_pem_x509_certificate(Path(credentials["caFile"]).read_bytes())
    assert chain[-1] == ca

    pfx_key, pfx_cert, extra = pkcs12.load_key_and_certificates(files["bundle.pfx"].contents, None)
    assert pfx_cert == chain[0] and pfx_key.public_key().public_numbers() == key.public_key().public_numbers()

    assert files["rotating/0"].contents == SEED.secrets.rotating[1][-1].encode()
    assert files["rotating/1"].contents == SEED.secrets.rotating[1][-2].encode()
    assert "secret/rotating/0" in versions and "secret/rotating/1" in versions


def test_failed_mount_lists_every_object_and_returns_no_files(api, provider, credentials):
    objects = [
        {"objectName": SEED.secrets.plain[0], "objectType": "secret"},
        {"objectName": "does-not-exist", "objectType": "secret"},
        {"objectName": SEED.secrets.disabled, "objectType": "secret"},
    ]
    with pytest.raises(grpc.RpcError) as info:
        _mount(api, provider, _attributes(credentials, objects))
    assert info.value.code() == grpc.StatusCode.UNKNOWN
    message = info.value.details()
    assert message.startswith("failed to mount objects, error:")
    assert "does-not-exist" in message and SEED.secrets.disabled in message
    assert SEED.secrets.plain[1] not in message


def test_bad_parameters_name_the_field(api, provider, credentials):
    bad = [{"objectName": "x", "objectType": "blob"}]
    with pytest.raises(grpc.RpcError) as info:
        _mount(api, provider, _attributes(credentials, bad))
    assert "objectType" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        _mount(api, provider, "{not json")
    assert "failed to unmarshal attributes" in info.value.details()
    with pytest.raises(grpc.RpcError) as info:
        _mount(api, provider, _attributes(credentials, [{"objectName": "plain", "objectType": "secret"}]), permission="rw")
    assert "failed to unmarshal file permission" in info.value.details()


def test_health_and_metrics(api, provider, credentials):
    _mount(api, provider, _attributes(credentials, [{"objectName": SEED.secrets.plain[0], "objectType": "secret"}]))
    with urllib.request.urlopen(f"http://127.0.0.1:{provider['healthz']}/healthz", timeout=10) as r:
        assert r.status == 200 and r.read() == b"ok"
    with urllib.request.urlopen(f"http://127.0.0.1:{provider['metrics']}/metrics", timeout=10) as r:
        text = r.read().decode()
    assert 'grpc_request_bucket{grpc_method="/v1alpha1.CSIDriverProvider/Mount"' in text
    assert "keyvault_request_count" in text and 'object_type="secret"' in text and 'provider="azure"' in text
    assert SEED.secrets.plain[1] not in text


def test_mount_shaped_like_the_upstream_sync_controller(api, provider, credentials, admin, reader_secrets):
    """The exact request the upstream Secrets Store Sync Controller sends: SPC parameters plus the
    controller's pod attributes (an empty pod name and uid when SYNC_CONTROLLER_POD_NAME/UID are
    unset), the SecretSync's namespace and service account, its tokens; secrets "{}", permission
    "420", target /mnt/secrets-store and no current object versions."""
    import datetime
    import uuid

    from test_workload_identity import Signer, sa_claims

    signer = Signer(kid=f"sync-{uuid.uuid4().hex[:8]}")
    admin.add_issuer(SEED.workload.issuer, signer.jwks())
    token = signer.sign(sa_claims(SEED.workload.issuer, SEED.workload.subject))
    expiry = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = SEED.secrets.plain[0]
    attributes = json.loads(_attributes(credentials, [{"objectName": name, "objectType": "secret"}]))
    attributes.update({
        "clientID": SEED.workload.client_id,
        "csi.storage.k8s.io/pod.name": "",
        "csi.storage.k8s.io/pod.uid": "",
        "csi.storage.k8s.io/pod.namespace": "apps",
        "csi.storage.k8s.io/serviceAccount.name": "web",
        "csi.storage.k8s.io/serviceAccount.tokens": json.dumps({"api://AzureADTokenExchange": {"token": token, "expirationTimestamp": expiry}}),
    })
    with grpc.insecure_channel(f"unix://{provider['socket']}") as channel:
        reply = api.CSIDriverProviderStub(channel).Mount(
            api.MountRequest(attributes=json.dumps(attributes), secrets="{}", permission="420", target_path="/mnt/secrets-store"), timeout=30)
    assert not reply.error.code, reply.error.code
    files = {f.path: f for f in reply.files}
    assert files[name].contents == SEED.secrets.plain[1].encode() and files[name].mode == 420
    assert {v.id: v.version for v in reply.object_version} == {f"secret/{name}": reader_secrets.get_secret(name).properties.version}
