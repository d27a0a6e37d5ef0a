"""TokenRequest (POST .../serviceaccounts/<name>/token) and the public OIDC discovery endpoints.

The tokens are verified with PyJWT against the server's JWKS, as a workload-identity token
exchange (Entra ID federated credentials) would. The OIDC documents are fetched without
credentials: kube-apiserver serves them to anyone (system:service-account-issuer-discovery).
The typed OIDC methods (WellKnownApi/OpenidApi) return a Python repr of the document rather than
JSON, so the documents are fetched raw.
"""

from __future__ import annotations

import base64
import datetime
import json
import time

import jwt
import pytest
from kubernetes import client

from conftest import expect_api_error, unique_name

AUDIENCES = ["api://AzureADTokenExchange", "akvs-interop"]


@pytest.fixture
def service_account(core, namespace):
    sa = core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="workload")))
    return sa


def request_token(core, namespace, name, audiences=None, expiration_seconds=None):
    spec = client.V1TokenRequestSpec(audiences=audiences if audiences is not None else AUDIENCES, expiration_seconds=expiration_seconds)
    return core.create_namespaced_service_account_token(name, namespace, client.AuthenticationV1TokenRequest(spec=spec))


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


@pytest.fixture(scope="module")
def oidc(kube_server):
    status, _, body = kube_server.raw_request("GET", "/.well-known/openid-configuration", token=None)
    assert status == 200, f"GET /.well-known/openid-configuration without credentials: {status} {body[:500]!r}"
    discovery = json.loads(body)
    jwks_uri = discovery.get("jwks_uri") or ""
    assert jwks_uri.endswith("/openid/v1/jwks"), f"jwks_uri {jwks_uri!r}"
    path = jwks_uri[jwks_uri.index("/openid/v1/jwks"):]
    status, headers, body = kube_server.raw_request("GET", path, token=None)
    assert status == 200, f"GET {path} without credentials: {status} {body[:500]!r}"
    return discovery, json.loads(body), headers


def test_oidc_discovery_documents(kube_server, oidc):
    discovery, jwks, _ = oidc
    assert discovery.get("issuer") == kube_server.url, f"issuer {discovery.get('issuer')!r}, expected the server URL {kube_server.url}"
    keys = jwks.get("keys")
    assert isinstance(keys, list) and keys, f"JWKS without keys: {jwks}"
    for key in keys:
        assert key.get("kty") in ("EC", "RSA"), key
        assert key.get("use", "sig") == "sig", key
        assert not any(k in key for k in ("d", "p", "q", "dp", "dq", "qi")), "the JWKS must not contain private key material"
    parsed = jwt.PyJWKSet.from_dict(jwks)
    assert len(parsed.keys) == len(keys)


def test_token_claims(kube_server, core, namespace, service_account):
    before = int(time.time())
    answer = request_token(core, namespace, "workload", expiration_seconds=600)
    after = int(time.time())
    token = answer.status.token
    assert token and token.count(".") == 2, f"status.token is not a compact JWS: {token!r}"
    assert answer.spec.audiences == AUDIENCES

    header = jwt.get_unverified_header(token)
    assert header.get("alg") in ("ES256", "RS256"), header
    claims = claims_of(token)
    assert claims["iss"] == kube_server.url
    assert claims["sub"] == f"system:serviceaccount:{namespace}:workload"
    assert claims["aud"] == AUDIENCES, f"aud must be the requested audiences, as a list: {claims['aud']!r}"
    assert before - 5 <= claims["iat"] <= after + 5, claims
    assert claims["nbf"] <= claims["iat"] + 1, claims
    assert claims["exp"] - claims["iat"] == 600, f"exp - iat = {claims['exp'] - claims['iat']}, expected expirationSeconds 600"
    k8s = claims.get("kubernetes.io") or {}
    assert k8s.get("namespace") == namespace, claims
    assert k8s.get("serviceaccount") == {"name": "workload", "uid": service_account.metadata.uid}, claims

    expires = answer.status.expiration_timestamp
    assert isinstance(expires, datetime.datetime), expires
    assert abs(expires.timestamp() - claims["exp"]) <= 1, f"status.expirationTimestamp {expires} vs exp {claims['exp']}"


def test_token_signature_verifies_against_jwks(kube_server, core, namespace, service_account, oidc):
    discovery, jwks, _ = oidc
    token = request_token(core, namespace, "workload", expiration_seconds=600).status.token
    header = jwt.get_unverified_header(token)
    keyset = jwt.PyJWKSet.from_dict(jwks)
    if header.get("kid"):
        matching = [k for k in keyset.keys if k.key_id == header["kid"]]
        assert len(matching) == 1, f"token kid {header['kid']!r} must name exactly one JWKS key; JWKS kids {[k.key_id for k in keyset.keys]}"
    else:
        matching = keyset.keys
    supported = discovery.get("id_token_signing_alg_values_supported")
    if supported is not None:
        assert header["alg"] in supported, f"alg {header['alg']} not in id_token_signing_alg_values_supported {supported}"

    verified = None
    for key in matching:
        try:
            verified = jwt.decode(
                token, key=key.key, algorithms=[header["alg"]], audience="akvs-interop", issuer=discovery["issuer"], leeway=5
            )
            break
        except jwt.InvalidSignatureError:
            continue
    assert verified is not None, "no JWKS key verifies the token signature"
    assert verified["sub"] == f"system:serviceaccount:{namespace}:workload"

    head, payload, signature = token.split(".")
    forged_claims = dict(verified, sub="system:serviceaccount:kube-system:admin")
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{forged_payload}.{signature}", key=matching[0].key, algorithms=[header["alg"]], audience="akvs-interop")


def test_default_expiration_is_one_hour(core, namespace, service_account):
    answer = request_token(core, namespace, "workload", audiences=["akvs-interop"])
    claims = claims_of(answer.status.token)
    assert claims["exp"] - claims["iat"] == 3600, f"default expirationSeconds: exp - iat = {claims['exp'] - claims['iat']}"
    assert answer.spec.expiration_seconds == 3600, f"spec.expirationSeconds in the answer: {answer.spec.expiration_seconds}"
    assert claims["aud"] == ["akvs-interop"]


def test_tokens_for_different_accounts_differ(core, namespace, service_account):
    core.create_namespaced_service_account(namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="other")))
    first = claims_of(request_token(core, namespace, "workload", expiration_seconds=600).status.token)
    second = claims_of(request_token(core, namespace, "other", expiration_seconds=600).status.token)
    assert first["sub"] != second["sub"]
    assert first["kubernetes.io"]["serviceaccount"]["uid"] != second["kubernetes.io"]["serviceaccount"]["uid"]


def test_missing_service_account_is_404(core, namespace):
    expect_api_error(
        core.create_namespaced_service_account_token,
        unique_name("ghost"),
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=AUDIENCES, expiration_seconds=600)),
        status=404,
        reason="NotFound",
    )


def test_expiration_below_ten_minutes_is_422(core, namespace, service_account):
    expect_api_error(request_token, core, namespace, "workload", expiration_seconds=599, status=422, reason="Invalid")


@pytest.mark.parametrize("seconds", [1e300, 3600.5])
def test_expiration_that_is_no_whole_number_is_422_not_a_crash(kube_server, namespace, service_account, seconds):
    # Sent raw: the Python client refuses a non-integer itself. 1e300 used to trap the server converting it to Int.
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": AUDIENCES, "expirationSeconds": seconds}}
    status, _, answer = kube_server.raw_request("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/workload/token", body=body)
    message = json.loads(answer).get("message", "")
    assert status == 422 and "spec.expirationSeconds" in message and "must be a whole number of seconds" in message, (status, answer)
