"""Federated credentials: ClientAssertionCredential and WorkloadIdentityCredential with our own JWTs.

The tests generate an RSA key, register its JWKS for `https://issuer.interop.test` through the admin
API, and sign RS256 service-account-style tokens by hand (no JWT library).
"""

import base64
import json
import time
import uuid

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientAssertionCredential, WorkloadIdentityCredential
from azure.keyvault.secrets import SecretClient
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def uint_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


class Signer:
    """An RSA key that signs RS256 JWTs and describes itself as a JWKS."""

    def __init__(self, kid: str):
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {
            "kid": self.kid,
            "kty": "RSA",
            "n": b64url(uint_bytes(numbers.n)),
            "e": b64url(uint_bytes(numbers.e)),
            "alg": "RS256",
            "use": "sig",
        }

    def jwks(self) -> dict:
        return {"keys": [self.jwk()]}

    def sign(self, claims: dict, kid: str = None) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": kid or self.kid}
        signing_input = (
            b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = self.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)


def verify_jws(jwk: dict, alg: str, signing_input: bytes, signature: bytes) -> None:
    """Verifies a JWS signature with a public JWK; raises InvalidSignature on mismatch."""
    if alg == "RS256" and jwk.get("kty") == "RSA":
        public = rsa.RSAPublicNumbers(
            int.from_bytes(b64url_decode(jwk["e"]), "big"), int.from_bytes(b64url_decode(jwk["n"]), "big")
        ).public_key()
        public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256" and jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
        public = ec.EllipticCurvePublicNumbers(
            int.from_bytes(b64url_decode(jwk["x"]), "big"), int.from_bytes(b64url_decode(jwk["y"]), "big"), ec.SECP256R1()
        ).public_key()
        assert len(signature) == 64, f"ES256 signature is {len(signature)} bytes, expected 64 (r || s)"
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        public.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
    else:
        raise AssertionError(f"unexpected JWS alg {alg!r} for JWK {jwk}")


def sa_claims(issuer: str, subject: str, audience: str = EXCHANGE_AUDIENCE, lifetime: int = 600, **extra) -> dict:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": subject,
        "aud": audience,
        "iat": now,
        "nbf": now - 5,
        "exp": now + lifetime,
        "jti": str(uuid.uuid4()),
    }
    claims.update(extra)
    return claims


@pytest.fixture(scope="module")
def issuer_key(admin, seed):
    """A key whose JWKS the emulator trusts for the workload identity's issuer."""
    signer = Signer(kid=f"interop-{uuid.uuid4().hex[:8]}")
    admin.add_issuer(seed.workload.issuer, signer.jwks())
    return signer


@pytest.fixture
def assertion_client(tenant_id, authority, vault_url, seed):
    """Factory: a SecretClient whose ClientAssertionCredential presents `token()`."""
    made = []

    def make(token, client_id=None):
        credential = ClientAssertionCredential(
            tenant_id, client_id or seed.workload.client_id, lambda: token(), authority=authority
        )
        client = SecretClient(vault_url, credential)
        made.append((client, credential))
        return client

    yield make
    for client, credential in made:
        client.close()
        credential.close()


def test_client_assertion_credential_reads_a_secret(issuer_key, assertion_client, seed):
    name, value = seed.secrets.identity_target
    client = assertion_client(lambda: issuer_key.sign(sa_claims(seed.workload.issuer, seed.workload.subject)))
    assert client.get_secret(name).value == value


def test_workload_identity_credential_with_token_file(issuer_key, tenant_id, authority, vault_url, seed, tmp_path):
    name, value = seed.secrets.identity_target
    token_file = tmp_path / "token"
    token_file.write_text(issuer_key.sign(sa_claims(seed.workload.issuer, seed.workload.subject)))
    credential = WorkloadIdentityCredential(
        tenant_id=tenant_id,
        client_id=seed.workload.client_id,
        token_file_path=str(token_file),
        authority=authority,
    )
    with SecretClient(vault_url, credential) as client:
        assert client.get_secret(name).value == value
    credential.close()


def test_wrong_subject_is_aadsts70021(issuer_key, assertion_client, seed):
    wrong = "system:serviceaccount:apps:not-web"
    client = assertion_client(lambda: issuer_key.sign(sa_claims(seed.workload.issuer, wrong)))
    with pytest.raises(ClientAuthenticationError) as info:
        client.get_secret(seed.secrets.identity_target[0])
    message = str(info.value)
    # "AADSTS70021" is also a prefix of the newer AADSTS700213 (subject mismatch).
    assert "AADSTS70021" in message, message


def test_subject_match_is_case_sensitive(issuer_key, assertion_client, seed):
    client = assertion_client(
        lambda: issuer_key.sign(sa_claims(seed.workload.issuer, seed.workload.subject.upper()))
    )
    with pytest.raises(ClientAuthenticationError) as info:
        client.get_secret(seed.secrets.identity_target[0])
    assert "AADSTS70021" in str(info.value), str(info.value)


def test_wrong_audience_is_rejected(issuer_key, assertion_client, seed):
    client = assertion_client(
        lambda: issuer_key.sign(sa_claims(seed.workload.issuer, seed.workload.subject, audience="api://Other"))
    )
    with pytest.raises(ClientAuthenticationError) as info:
        client.get_secret(seed.secrets.identity_target[0])
    assert "AADSTS" in str(info.value), str(info.value)


def test_expired_assertion_is_rejected(issuer_key, assertion_client, seed):
    now = int(time.time())
    claims = sa_claims(seed.workload.issuer, seed.workload.subject, iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    client = assertion_client(lambda: issuer_key.sign(claims))
    with pytest.raises(ClientAuthenticationError) as info:
        client.get_secret(seed.secrets.identity_target[0])
    assert "AADSTS" in str(info.value), str(info.value)


@pytest.mark.parametrize("kid_mode", ["unregistered-kid", "registered-kid"])
def test_token_signed_by_an_unregistered_key_is_rejected(issuer_key, assertion_client, seed, kid_mode):
    stranger = Signer(kid=f"stranger-{uuid.uuid4().hex[:8]}")
    # registered-kid: the header names the trusted key, but the signature is by another key.
    kid = issuer_key.kid if kid_mode == "registered-kid" else None
    client = assertion_client(
        lambda: stranger.sign(sa_claims(seed.workload.issuer, seed.workload.subject), kid=kid)
    )
    with pytest.raises(ClientAuthenticationError) as info:
        client.get_secret(seed.secrets.identity_target[0])
    assert "AADSTS" in str(info.value), str(info.value)


def test_tampered_signature_is_rejected(issuer_key, assertion_client, seed):
    token = issuer_key.sign(sa_claims(seed.workload.issuer, seed.workload.subject))
    head, payload, signature = token.split(".")
    raw = bytearray(b64url_decode(signature))
    raw[-1] ^= 0x01
    client = assertion_client(lambda: f"{head}.{payload}.{b64url(bytes(raw))}")
    with pytest.raises(ClientAuthenticationError):
        client.get_secret(seed.secrets.identity_target[0])


def test_emulator_issuer_token_with_runtime_identity(admin, authority, assertion_client, seed):
    """POST /_emulator/identities + POST /_emulator/issuer/token, then use the token as an assertion."""
    issuer = authority.rstrip("/") + "/_emulator/issuer"
    subject = f"system:serviceaccount:interop:{uuid.uuid4().hex[:8]}"
    client_id = str(uuid.uuid4())
    admin.add_identity(
        {
            "name": f"runtime-{client_id[:8]}",
            "clientId": client_id,
            "federatedCredentials": [{"issuer": issuer, "subject": subject, "audience": EXCHANGE_AUDIENCE}],
            "access": {seed.vault: "read"},
        }
    )
    token = admin.issuer_token(subject, EXCHANGE_AUDIENCE, 600)

    head, payload, signature = token.split(".")
    header = json.loads(b64url_decode(head))
    claims = json.loads(b64url_decode(payload))
    assert claims.get("iss") == issuer, claims
    assert claims.get("sub") == subject, claims
    aud = claims.get("aud")
    assert aud == EXCHANGE_AUDIENCE or (isinstance(aud, list) and EXCHANGE_AUDIENCE in aud), claims

    # The signature verifies with the key published at /_emulator/issuer/jwks (RS256 or ES256).
    response = admin.session.get(issuer + "/jwks", timeout=30)
    assert response.status_code == 200, response.text
    keys = response.json()["keys"]
    jwk = next((k for k in keys if k.get("kid") == header.get("kid")), keys[0] if len(keys) == 1 else None)
    assert jwk is not None, f"no key for kid {header.get('kid')} in {keys}"
    verify_jws(jwk, header.get("alg"), f"{head}.{payload}".encode(), b64url_decode(signature))

    name, value = seed.secrets.identity_target
    client = assertion_client(lambda: token, client_id=client_id)
    assert client.get_secret(name).value == value
