"""ManagedIdentityCredential over the emulator's IMDS listener (AZURE_POD_IDENTITY_AUTHORITY_HOST)."""

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient

# Variables that would make ManagedIdentityCredential pick another hosting environment.
OTHER_MI_ENVIRONMENTS = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
)


@pytest.fixture
def imds_env(monkeypatch, imds_origin):
    for name in OTHER_MI_ENVIRONMENTS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds_origin)
    return imds_origin


def _imds_total(admin):
    return int((admin.counters().get("imds") or {}).get("total", 0))


def test_user_assigned_managed_identity(imds_env, admin, vault_url, seed):
    name, value = seed.secrets.identity_target
    before = _imds_total(admin)
    credential = ManagedIdentityCredential(client_id=seed.user_mi.client_id)
    with SecretClient(vault_url, credential) as client:
        assert client.get_secret(name).value == value
    credential.close()
    assert _imds_total(admin) > before, "the token did not come from the IMDS listener"


def test_system_assigned_managed_identity(imds_env, admin, vault_url, seed):
    name, value = seed.secrets.identity_target
    before = _imds_total(admin)
    credential = ManagedIdentityCredential()
    with SecretClient(vault_url, credential) as client:
        assert client.get_secret(name).value == value
    credential.close()
    assert _imds_total(admin) > before, "the token did not come from the IMDS listener"


def test_unknown_managed_identity_fails(imds_env, vault_url, seed):
    credential = ManagedIdentityCredential(client_id="0a11ce00-0000-4000-8000-0000000000ff")
    with SecretClient(vault_url, credential) as client:
        # CredentialUnavailableError is a ClientAuthenticationError.
        with pytest.raises(ClientAuthenticationError):
            client.get_secret(seed.secrets.identity_target[0])
    credential.close()


def test_imds_wire_shape(imds_origin, credentials, seed):
    """IMDS requires `Metadata: true` and answers string-valued expires_in / expires_on."""
    url = imds_origin + "/metadata/identity/oauth2/token"
    resource = credentials.get("resource") or "https://vault.azure.net"
    params = {"api-version": "2018-02-01", "resource": resource, "client_id": seed.user_mi.client_id}
    with requests.Session() as session:
        session.trust_env = False
        missing_header = session.get(url, params=params, timeout=30)
        assert missing_header.status_code == 400, missing_header.text
        answer = session.get(url, params=params, headers={"Metadata": "true"}, timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body.get("access_token")
    assert isinstance(body.get("expires_in"), str) and body["expires_in"].isdigit(), body.get("expires_in")
    assert isinstance(body.get("expires_on"), str) and body["expires_on"].isdigit(), body.get("expires_on")
    assert body.get("token_type") == "Bearer"
    assert body.get("resource") == resource
