"""The sync controller's ValidatingAdmissionPolicies, evaluated with a CEL interpreter (cel-python) the way
the API server does: matchConstraints, then matchConditions, then variables and validations."""

from __future__ import annotations

from typing import List, Optional

import pytest

from conftest import COMBINATIONS

celpy = pytest.importorskip("celpy", reason="pip install cel-python (Interop/chart/requirements.txt)")

import admission  # noqa: E402

CONTROLLER = "system:serviceaccount:kube-system:akvs-secrets-store-sync-controller"
PREFIX = "akvs-secrets-store-sync-controller-"


class Policies:
    """The sync controller's policies of a rendered chart (admission.Policies), answering by policy suffix."""

    def __init__(self, rendered):
        self.all = admission.Policies(rendered.objects)
        self.policies = {n: p for n, p in self.all.policies.items() if n.startswith(PREFIX)}

    def admit(self, operation: str, resource: str, namespace: str, name: str, obj: Optional[dict],
              old: Optional[dict] = None, user: str = CONTROLLER) -> List[str]:
        """The names of the policies that deny the request (empty: admitted)."""
        request = admission.Request(operation=operation, group="", resource=resource, namespace=namespace, name=name,
                                    object=obj, old_object=old, user=user)
        return sorted({d.policy[len(PREFIX):] for d in self.all.review(request) if d.policy.startswith(PREFIX)})


@pytest.fixture(scope="module")
def policies(render):
    return Policies(render(["syncController.enabled=true"]))


def secret(name="db", namespace="app", type_="Opaque", owners=None, labels=None):
    meta = {"name": name, "namespace": namespace}
    if owners is not None:
        meta["ownerReferences"] = owners
    if labels is not None:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": type_, "data": {"k": "dg=="}}


def sync_owner(name="db", kind="SecretSync", api="secret-sync.x-k8s.io/v1alpha1"):
    return {"apiVersion": api, "kind": kind, "name": name, "uid": "u-1"}


MANAGED = {"secrets-store.sync.x-k8s.io": ""}


def test_all_six_policies_are_bound(policies):
    assert sorted(n[len(PREFIX):] for n in policies.policies) == [
        "create-update-policy", "create-update-token-deny-policy", "delete-policy",
        "update-check-oldobject-policy", "update-label-policy", "validate-token-policy"]


def test_what_akvs_writes_is_admitted(policies):
    """A Secret as akvs's reconciler shapes it: one SecretSync owner of the same name, the managed label."""
    s = secret(owners=[sync_owner()], labels=MANAGED)
    assert policies.admit("CREATE", "secrets", "app", "db", s) == []
    assert policies.admit("UPDATE", "secrets", "app", "db", s, old=s) == []


@pytest.mark.parametrize("owners", [
    None, [], [sync_owner(), sync_owner()], [sync_owner(kind="Deployment")], [sync_owner(name="other")],
    [sync_owner(api="apps/v1")],
], ids=["none", "empty", "two", "wrong-kind", "wrong-name", "wrong-group"])
def test_create_needs_exactly_one_secretsync_owner(policies, owners):
    assert "create-update-policy" in policies.admit("CREATE", "secrets", "app", "db", secret(owners=owners, labels=MANAGED))


def test_types(policies):
    owned = [sync_owner()]
    assert policies.admit("CREATE", "secrets", "app", "db", secret(type_="kubernetes.io/tls", owners=owned)) == []
    assert policies.admit("CREATE", "secrets", "app", "db", secret(type_="kubernetes.io/service-account-token", owners=owned)) == [
        "create-update-policy", "create-update-token-deny-policy"]
    assert policies.admit("CREATE", "secrets", "app", "db", secret(type_="example.com/custom", owners=owned)) == ["create-update-policy"]


def test_no_delete(policies):
    assert policies.admit("DELETE", "secrets", "app", "db", None, old=secret(owners=[sync_owner()])) == ["delete-policy"]


def test_update_of_a_secret_the_controller_did_not_create(policies):
    new = secret(owners=[sync_owner()], labels=MANAGED)
    foreign = secret(owners=None, labels=None)
    assert policies.admit("UPDATE", "secrets", "app", "db", new, old=foreign) == ["update-check-oldobject-policy", "update-label-policy"]
    owned_unlabelled = secret(owners=[sync_owner()], labels={"team": "a"})
    assert policies.admit("UPDATE", "secrets", "app", "db", new, old=owned_unlabelled) == ["update-label-policy"]
    wrong_value = secret(owners=[sync_owner()], labels={"secrets-store.sync.x-k8s.io": "x"})
    assert policies.admit("UPDATE", "secrets", "app", "db", new, old=wrong_value) == ["update-label-policy"]


def token(audiences, seconds=600):
    spec = {"audiences": audiences}
    if seconds is not None:
        spec["expirationSeconds"] = seconds
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


def test_tokens(policies):
    ok = token(["api://AzureADTokenExchange"])
    assert policies.admit("CREATE", "serviceaccounts/token", "app", "workload", ok) == []
    for bad in (token(["api://AzureADTokenExchange"], 3600), token(["api://other"]),
                token(["api://AzureADTokenExchange", "api://other"]), token(["api://AzureADTokenExchange"], None)):
        assert policies.admit("CREATE", "serviceaccounts/token", "app", "workload", bad) == ["validate-token-policy"], bad


def test_other_users_are_not_matched(policies):
    assert policies.admit("DELETE", "secrets", "app", "db", None, old=secret(), user="system:serviceaccount:app:someone") == []
    assert policies.admit("CREATE", "secrets", "app", "db", secret(), user="alice") == []


def test_the_controllers_own_hash_key_secret_is_allowed(policies):
    key = secret(name="akvs-sync-controller-hash-key", namespace="kube-system")
    assert policies.admit("CREATE", "secrets", "kube-system", "akvs-sync-controller-hash-key", key) == []
    # ... in the controller's namespace only, and never deleted.
    assert policies.admit("CREATE", "secrets", "app", "akvs-sync-controller-hash-key", secret(name="akvs-sync-controller-hash-key")) == ["create-update-policy"]
    assert policies.admit("DELETE", "secrets", "kube-system", "akvs-sync-controller-hash-key", None, old=key) == ["delete-policy"]


def test_configured_audience_and_types(render):
    p = Policies(render(["syncController.enabled=true", "syncController.tokenRequestAudience=api://custom",
                         "syncController.validatingAdmissionPolicies.allowedSecretTypes[0]=Opaque",
                         "syncController.validatingAdmissionPolicies.deniedSecretTypes[0]=kubernetes.io/tls"]))
    assert p.admit("CREATE", "serviceaccounts/token", "a", "w", token(["api://custom"])) == []
    assert p.admit("CREATE", "serviceaccounts/token", "a", "w", token(["api://AzureADTokenExchange"])) == ["validate-token-policy"]
    assert p.admit("CREATE", "secrets", "app", "db", secret(type_="kubernetes.io/basic-auth", owners=[sync_owner()])) == ["create-update-policy"]
    assert "create-update-token-deny-policy" in p.admit("CREATE", "secrets", "app", "db", secret(type_="kubernetes.io/tls", owners=[sync_owner()]))


def test_gated_on_the_cluster(render):
    assert not render(["syncController.enabled=true"], extra=["--kube-version", "1.29.0"]).of_kind("ValidatingAdmissionPolicy")
    live = render(["syncController.enabled=true"], extra=["--kube-version", "1.29.0", "--api-versions",
                                                         "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy"])
    assert len(live.of_kind("ValidatingAdmissionPolicy")) == 6
    assert not render(["syncController.enabled=true", "syncController.validatingAdmissionPolicies.applyPolicies=false"]).of_kind("ValidatingAdmissionPolicy")
    assert not render(COMBINATIONS["defaults"]).of_kind("ValidatingAdmissionPolicy")


def test_controller_username_follows_the_release(render):
    r = render(COMBINATIONS["aks-names"])
    for p in r.of_kind("ValidatingAdmissionPolicy"):
        exprs = [c["expression"] for c in p["spec"]["matchConditions"]]
        assert "request.userInfo.username == 'system:serviceaccount:kube-system:aks-secrets-store-sync-controller'" in exprs
    assert "aks-secrets-store-sync-controller" in r.names("ServiceAccount")
