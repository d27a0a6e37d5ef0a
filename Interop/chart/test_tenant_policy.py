"""The tenant policy (policy.*), evaluated with cel-python as kube-apiserver evaluates ValidatingAdmissionPolicies
(admission.py): for every rule a request that is refused, with the message, and one that is admitted; the ways
around a rule (another spelling of true, a vault name in other case, `..` or a look-alike folder in
cloudEnvFileName, the pod's volumeAttributes that override its class's parameters, a Deployment instead of a Pod)
are refused."""

from __future__ import annotations

import copy
from typing import Dict, List, Optional

import pytest

from conftest import COMBINATIONS

celpy = pytest.importorskip("celpy", reason="pip install cel-python (Interop/chart/requirements.txt)")

import admission  # noqa: E402

TENANT = "akvs-tenant-"
SETTINGS = ["policy.enabled=true", "policy.allowedVaults[0]=prod-vault", "policy.allowedVaults[1]=Shared-Vault",
            "policy.allowedCloudEnvDirs[0]=/etc/kubernetes", "policy.allowedCloudEnvDirs[1]=/opt/azurestack/"]
ALLOWED_VAULTS = "allowed vaults: prod-vault, shared-vault"
ALLOWED_DIRS = "allowed folders: /etc/kubernetes/, /opt/azurestack/"
WORKLOAD_IDENTITY = "use workload identity instead"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"


class Tenant:
    def __init__(self, rendered):
        self.policies = admission.Policies(rendered.objects)
        self.names = sorted(n for n in self.policies.policies if n.startswith(TENANT))

    def review(self, operation: str, group: str, resource: str, obj: Optional[dict], old: Optional[dict] = None,
               namespace: str = "team-a", labels: Optional[Dict[str, str]] = None, user: str = "alice") -> List[str]:
        """The denial messages (empty: admitted). An evaluation error fails the test: every expression must run."""
        request = admission.Request(operation=operation, group=group, resource=resource, namespace=namespace,
                                    name=((obj or old or {}).get("metadata") or {}).get("name", ""), object=obj,
                                    old_object=old, user=user, namespace_labels=labels or {})
        denials = [d for d in self.policies.review(request) if d.policy.startswith(TENANT)]
        for d in denials:
            assert "error" not in d.message, f"{d.policy}: {d.message}"
            assert d.reason == "Forbidden", d
        return [d.message for d in denials]

    def spc(self, parameters: Dict[str, str], operation: str = "CREATE", **kw) -> List[str]:
        return self.review(operation, "secrets-store.csi.x-k8s.io", "secretproviderclasses", spc(parameters), **kw)

    def pod(self, volumes: List[dict], **kw) -> List[str]:
        return self.review("CREATE", "", "pods", pod(volumes), **kw)


def spc(parameters: Dict[str, str]) -> dict:
    return {"apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
            "metadata": {"name": "app", "namespace": "team-a"}, "spec": {"provider": "azure", "parameters": parameters}}


GOOD = {"keyvaultName": "prod-vault", "tenantId": "tenant", "clientID": CLIENT_ID, "objects": "array:\n  - |\n    objectName: db\n    objectType: secret\n"}


def volume(name: str = "secrets", attributes: Optional[Dict[str, str]] = None, secret_ref: Optional[str] = None,
           driver: str = "secrets-store.csi.k8s.io") -> dict:
    csi = {"driver": driver, "readOnly": True, "volumeAttributes": {"secretProviderClass": "app", **(attributes or {})}}
    if secret_ref:
        csi["nodePublishSecretRef"] = {"name": secret_ref}
    return {"name": name, "csi": csi}


def pod_spec(volumes: List[dict]) -> dict:
    return {"containers": [{"name": "app", "image": "app:1"}], "volumes": volumes}


def pod(volumes: List[dict]) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app", "namespace": "team-a"}, "spec": pod_spec(volumes)}


def workload(kind: str, volumes: List[dict], replicas: int = 1) -> dict:
    template = {"metadata": {"labels": {"app": "a"}}, "spec": pod_spec(volumes)}
    if kind == "CronJob":
        spec = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": template}}}
    else:
        spec = {"replicas": replicas, "template": template}
    return {"kind": kind, "metadata": {"name": "app", "namespace": "team-a"}, "spec": spec}


@pytest.fixture(scope="module")
def tenant(render):
    return Tenant(render(SETTINGS))


def test_off_by_default(render):
    for combination in COMBINATIONS.values():
        if not any(s.startswith("policy.") for s in combination):
            assert not [n for n in render(combination).names("ValidatingAdmissionPolicy") if n.startswith(TENANT)]


def test_policies_and_bindings(tenant):
    assert tenant.names == [TENANT + s for s in ("akvsyncs", "cronjobs", "pods", "secretproviderclasses", "workloads")]
    for name in tenant.names:
        policy = tenant.policies.policies[name]
        assert policy["spec"]["failurePolicy"] == "Fail"
        assert policy["spec"]["matchConstraints"]["namespaceSelector"] == {}


# --- SecretProviderClass ------------------------------------------------------------------------------------------


def test_a_workload_identity_class_is_admitted(tenant):
    assert tenant.spc(GOOD) == []
    assert tenant.spc({**GOOD, "useVMManagedIdentity": "false", "userAssignedIdentityID": "", "cloudEnvFileName": ""}) == []
    assert tenant.spc(GOOD, operation="UPDATE", old=spc(GOOD)) == []
    assert tenant.review("CREATE", "secrets-store.csi.x-k8s.io", "secretproviderclasses",
                         {"kind": "SecretProviderClass", "metadata": {"name": "x"}, "spec": {"provider": "azure"}}) == []


@pytest.mark.parametrize("value", ["true", "True", "TRUE", "t", "T", "1", " true ", "true\n", "tRuE", "yes"])
def test_vm_identity_in_any_spelling_is_refused(tenant, value):
    """Whatever the provider reads as true (Go's ParseBool after trimming), and whatever it cannot read."""
    assert tenant.spc({**GOOD, "useVMManagedIdentity": value}) == [
        f"spec.parameters.useVMManagedIdentity '{value}' is not allowed in this namespace; a node's managed identity can be "
        f"used by every pod on the node; {WORKLOAD_IDENTITY}: spec.parameters.clientID and a service account federated with that identity"]


@pytest.mark.parametrize("value", ["false", "False", "FALSE", "f", "0", "", " false "])
def test_vm_identity_false_is_admitted(tenant, value):
    assert tenant.spc({**GOOD, "useVMManagedIdentity": value}) == []


def test_user_assigned_identity_is_refused(tenant):
    messages = tenant.spc({**GOOD, "userAssignedIdentityID": CLIENT_ID})
    assert messages == [f"spec.parameters.userAssignedIdentityID '{CLIENT_ID}' is not allowed in this namespace; a node's managed identity "
                        f"can be used by every pod on the node; {WORKLOAD_IDENTITY}: spec.parameters.clientID and a service account "
                        "federated with that identity"]
    both = tenant.spc({**GOOD, "useVMManagedIdentity": "true", "userAssignedIdentityID": CLIENT_ID})
    assert len(both) == 2
    assert tenant.spc({**GOOD, "userAssignedIdentityID": "  "}) == []


@pytest.mark.parametrize("name", ["prod-vault", "PROD-VAULT", "Prod-Vault", " prod-vault ", "shared-vault", "SHARED-VAULT"])
def test_allowed_vaults_in_any_case(tenant, name):
    """Key Vault names are DNS labels: case-insensitive in Azure, so the comparison is too."""
    assert tenant.spc({**GOOD, "keyvaultName": name}) == []


@pytest.mark.parametrize("name", ["other", "prod-vault2", "prod", "prod-vault.vault.azure.net", "prod-vault/x", "", "prod_vault"])
def test_other_vaults_are_refused(tenant, name):
    assert tenant.spc({**GOOD, "keyvaultName": name}) == [
        f"spec.parameters.keyvaultName '{name}' is not allowed in this namespace; {ALLOWED_VAULTS}"]


@pytest.mark.parametrize("path", ["/etc/kubernetes/custom.json", "/etc/kubernetes/clouds/stack.json",
                                  "/opt/azurestack/cloud.json", "/etc/kubernetes/./custom.json", "/etc/kubernetes/custom.json ",
                                  "/etc/kubernetes/..custom.json", "", "   "])
def test_cloud_env_files_inside_the_folders_are_admitted(tenant, path):
    assert tenant.spc({**GOOD, "cloudName": "AzureStackCloud", "cloudEnvFileName": path}) == []


@pytest.mark.parametrize("path", [
    "/etc/kubernetes/../shadow",            # parent segment
    "/etc/kubernetes/x/../../passwd",
    "/etc/kubernetes/..",
    "/etc/kubernetes/.. ",                  # the provider trims the space: /etc/kubernetes/..
    "/etc/kubernetes/..\n",
    "/opt/azurestack/../../root/.kube/config",
    "/etc/kubernetes-evil/cloud.json",      # prefix of a folder name
    "/etc/kubernetesx.json",
    "/etc/kubernetes",                      # the folder itself, written without the slash
    "etc/kubernetes/cloud.json",            # relative (to the provider's working folder)
    " /etc/kubernetes/cloud.json",          # leading space
    "//etc/kubernetes/cloud.json",
    "/var/lib/kubelet/pods/x/volumes/cloud.json",
    "/etc/shadow",
])
def test_cloud_env_files_elsewhere_are_refused(tenant, path):
    assert tenant.spc({**GOOD, "cloudName": "AzureStackCloud", "cloudEnvFileName": path}) == [
        f"spec.parameters.cloudEnvFileName '{path}' is not allowed in this namespace; {ALLOWED_DIRS} "
        "(an absolute path below one of them, without '..')"]


def test_every_rule_at_once(tenant):
    bad = {"keyvaultName": "other", "useVMManagedIdentity": "True", "userAssignedIdentityID": CLIENT_ID,
           "cloudEnvFileName": "/etc/passwd", "objects": "array: []"}
    fields = [m.split(" ")[0] for m in tenant.spc(bad)]
    assert sorted(fields) == ["spec.parameters.cloudEnvFileName", "spec.parameters.keyvaultName",
                              "spec.parameters.useVMManagedIdentity", "spec.parameters.userAssignedIdentityID"]


def test_updates_are_checked_too(tenant):
    assert tenant.spc({**GOOD, "keyvaultName": "other"}, operation="UPDATE", old=spc(GOOD))


def test_every_user_including_the_sync_controller(tenant):
    """An AKVSync cannot get around the policy through the class the controller generates for it."""
    controller = "system:serviceaccount:kube-system:akvs-secrets-store-sync-controller"
    assert tenant.spc({**GOOD, "keyvaultName": "other"}, user=controller)
    assert tenant.spc({**GOOD, "keyvaultName": "other"}, user="system:admin")


def test_akvsync_vault(tenant):
    def akvsync(vault):
        return {"apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "AKVSync", "metadata": {"name": "a", "namespace": "team-a"},
                "spec": {"keyvaultName": vault, "clientID": CLIENT_ID, "tenantID": "t", "serviceAccountName": "sa", "objects": []}}
    assert tenant.review("CREATE", "secret-sync.x-k8s.io", "akvsyncs", akvsync("Shared-Vault")) == []
    assert tenant.review("CREATE", "secret-sync.x-k8s.io", "akvsyncs", akvsync("other")) == [
        f"spec.keyvaultName 'other' is not allowed in this namespace; {ALLOWED_VAULTS}"]


# --- Pods and pod templates -----------------------------------------------------------------------------------------


def test_a_pod_with_a_plain_volume_is_admitted(tenant):
    assert tenant.pod([volume()]) == []
    assert tenant.pod([]) == []
    assert tenant.review("CREATE", "", "pods", {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": []}}) == []
    # Another CSI driver's secret reference is not this policy's business.
    assert tenant.pod([volume(driver="disk.csi.azure.com", secret_ref="disk-creds")]) == []


def test_node_publish_secret_ref_is_refused(tenant):
    assert tenant.pod([volume(), volume("sp", secret_ref="sp-creds")]) == [
        "spec.volumes (volume 'sp'): csi.nodePublishSecretRef is not allowed in this namespace; no service-principal secret "
        f"may be kept in the cluster; {WORKLOAD_IDENTITY}: spec.parameters.clientID in the SecretProviderClass and a service "
        "account federated with that identity"]


@pytest.mark.parametrize("attributes,field", [
    ({"keyvaultName": "other"}, "keyvaultName"),
    ({"useVMManagedIdentity": "True"}, "useVMManagedIdentity"),
    ({"useVMManagedIdentity": "1"}, "useVMManagedIdentity"),
    ({"userAssignedIdentityID": CLIENT_ID}, "userAssignedIdentityID"),
    ({"cloudEnvFileName": "/etc/kubernetes/../shadow"}, "cloudEnvFileName"),
    ({"cloudEnvFileName": "/etc/kubernetes-evil/c.json"}, "cloudEnvFileName"),
])
def test_volume_attributes_cannot_override_the_class(tenant, attributes, field):
    """The driver hands a volume's volumeAttributes to the provider over the class's parameters (as upstream does):
    the same rules hold there."""
    value = attributes[field]
    messages = tenant.pod([volume("kv", attributes)])
    assert len(messages) == 1
    assert messages[0].startswith(f"spec.volumes (volume 'kv'): csi.volumeAttributes.{field} '{value}' is not allowed in this namespace; ")
    assert tenant.pod([volume("kv", {"keyvaultName": "PROD-VAULT", "useVMManagedIdentity": "false",
                                     "cloudEnvFileName": "/etc/kubernetes/c.json"})]) == []


WORKLOADS = [("apps", "deployments", "Deployment", "spec.template.spec.volumes"),
             ("apps", "replicasets", "ReplicaSet", "spec.template.spec.volumes"),
             ("apps", "statefulsets", "StatefulSet", "spec.template.spec.volumes"),
             ("apps", "daemonsets", "DaemonSet", "spec.template.spec.volumes"),
             ("batch", "jobs", "Job", "spec.template.spec.volumes"),
             ("", "replicationcontrollers", "ReplicationController", "spec.template.spec.volumes"),
             ("batch", "cronjobs", "CronJob", "spec.jobTemplate.spec.template.spec.volumes")]


@pytest.mark.parametrize("group,resource,kind,field", WORKLOADS, ids=[w[2] for w in WORKLOADS])
def test_workloads_are_refused_at_apply_time(tenant, group, resource, kind, field):
    bad = workload(kind, [volume("sp", secret_ref="sp-creds")])
    assert tenant.review("CREATE", group, resource, bad) == [
        f"{field} (volume 'sp'): csi.nodePublishSecretRef is not allowed in this namespace; no service-principal secret "
        f"may be kept in the cluster; {WORKLOAD_IDENTITY}: spec.parameters.clientID in the SecretProviderClass and a service "
        "account federated with that identity"]
    vault = tenant.review("CREATE", group, resource, workload(kind, [volume("kv", {"keyvaultName": "other"})]))
    assert vault == [f"{field} (volume 'kv'): csi.volumeAttributes.keyvaultName 'other' is not allowed in this namespace; {ALLOWED_VAULTS}"]
    good = workload(kind, [volume()])
    assert tenant.review("CREATE", group, resource, good) == []
    # Changing the template is checked ...
    assert tenant.review("UPDATE", group, resource, bad, old=good)
    # ... but not an update that leaves it alone (the Deployment controller scaling an old ReplicaSet down,
    # labels, annotations), so a workload admitted before the policy can still be rolled forward.
    if kind != "CronJob":
        scaled = copy.deepcopy(bad)
        scaled["spec"]["replicas"] = 0
        assert tenant.review("UPDATE", group, resource, scaled, old=bad) == []
    relabelled = copy.deepcopy(bad)
    relabelled["metadata"]["labels"] = {"x": "y"}
    assert tenant.review("UPDATE", group, resource, relabelled, old=bad) == []


def test_a_replication_controller_without_template(tenant):
    rc = {"kind": "ReplicationController", "metadata": {"name": "rc"}, "spec": {"replicas": 0}}
    assert tenant.review("CREATE", "", "replicationcontrollers", rc) == []


# --- settings -------------------------------------------------------------------------------------------------------


def test_namespace_selector(render):
    t = Tenant(render(SETTINGS + ["policy.namespaceSelector.matchLabels.tenancy=shared"]))
    bad = {**GOOD, "keyvaultName": "other"}
    assert t.spc(bad, labels={"tenancy": "shared"})
    assert t.spc(bad, labels={"tenancy": "dedicated"}) == []
    assert t.spc(bad) == []
    assert t.pod([volume("sp", secret_ref="s")], labels={"tenancy": "shared"})
    assert t.pod([volume("sp", secret_ref="s")]) == []
    t = Tenant(render(SETTINGS + ["policy.namespaceSelector.matchExpressions[0].key=kubernetes.io/metadata.name",
                                  "policy.namespaceSelector.matchExpressions[0].operator=NotIn",
                                  "policy.namespaceSelector.matchExpressions[0].values[0]=kube-system"]))
    assert t.spc(bad, namespace="team-b")
    assert t.spc(bad, namespace="kube-system") == []


def test_rules_can_be_switched_off(render):
    t = Tenant(render(["policy.enabled=true", "policy.forbidNodePublishSecretRef=false", "policy.forbidNodeIdentities=false",
                       "policy.allowedCloudEnvDirs[0]=/"]))
    assert "akvs-tenant-akvsyncs" not in t.names, "no vault list: nothing to check on AKVSyncs"
    assert t.spc({**GOOD, "keyvaultName": "any-vault", "useVMManagedIdentity": "true", "userAssignedIdentityID": CLIENT_ID,
                  "cloudEnvFileName": "/anywhere/cloud.json"}) == []
    assert t.spc({**GOOD, "cloudEnvFileName": "/a/../etc/shadow"}), "'..' stays refused under /"
    assert t.pod([volume("sp", secret_ref="s", attributes={"keyvaultName": "any-vault"})]) == []


def test_no_folders_means_no_cloud_env_file(render):
    t = Tenant(render(["policy.enabled=true"]))
    assert t.spc({**GOOD, "keyvaultName": "any-vault"}) == []
    assert t.spc({**GOOD, "cloudEnvFileName": "/etc/kubernetes/cloud.json"}) == [
        "spec.parameters.cloudEnvFileName '/etc/kubernetes/cloud.json' is not allowed in this namespace; no cloud environment "
        "file is allowed here (policy.allowedCloudEnvDirs is empty); use spec.parameters.cloudName (AzurePublicCloud, "
        "AzureUSGovernmentCloud, AzureChinaCloud)"]
    # Both rules are on by default once the policy is.
    assert t.spc({**GOOD, "useVMManagedIdentity": "true"})
    assert t.pod([volume("sp", secret_ref="s")])


def test_bad_settings_are_refused(render_error):
    assert "has a '.' or '..' segment" in render_error(["policy.enabled=true", "policy.allowedCloudEnvDirs[0]=/etc/../root"])
    assert "/policy/allowedCloudEnvDirs/0" in render_error(["policy.enabled=true", "policy.allowedCloudEnvDirs[0]=etc"])
    assert "/policy/allowedCloudEnvDirs/0" in render_error(["policy.enabled=true", "policy.allowedCloudEnvDirs[0]=/it's"])
    assert "/policy/allowedVaults/0" in render_error(["policy.enabled=true", "policy.allowedVaults[0]=a'b"])
    assert "/policy/namespaceSelector" in render_error(["policy.enabled=true", "policy.namespaceSelector.labels.a=b"])
    assert "Kubernetes 1.30+" in render_error(["policy.enabled=true"], extra=["--kube-version", "1.29.0"])


# --- the objects themselves ----------------------------------------------------------------------------------------


def test_kubectl_dry_run_accepts_the_policies(render, kubectl, kube_server, tmp_path):
    """kubectl apply --dry-run=client maps and prepares every policy and binding against the test server's discovery
    (schema validation is kubernetes-validate's, in test_manifests.py: the test server serves no OpenAPI)."""
    import subprocess

    import yaml

    objects = [o for o in render(COMBINATIONS["tenant-policy"]).objects
               if o["kind"] in ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")]
    assert len([o for o in objects if o["metadata"]["name"].startswith(TENANT)]) == 10
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}
    proc = subprocess.run([str(kubectl), "--kubeconfig", str(kube_server.kubeconfig), "apply", "--dry-run=client", "--validate=false",
                           "-f", str(path)], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    for o in objects:
        assert f"/{o['metadata']['name']} created (dry run)" in proc.stdout, (o["metadata"]["name"], proc.stdout)


def test_install_notes_say_what_is_refused(helm):
    from conftest import CHART, run_helm

    proc = run_helm(helm, ["install", "akvs", str(CHART), "--dry-run=client", "-n", "kube-system", *sum((["--set", s] for s in SETTINGS), [])])
    assert ("Tenant policy: ValidatingAdmissionPolicies akvs-tenant-* refuse, in every namespace,\nnodePublishSecretRef; node identities; "
            "vaults other than prod-vault, Shared-Vault; cloudEnvFileName outside /etc/kubernetes, /opt/azurestack/.") in proc.stdout, proc.stdout
    plain = run_helm(helm, ["install", "akvs", str(CHART), "--dry-run=client", "-n", "kube-system"])
    assert "Tenant policy" not in plain.stdout and "NetworkPolicies" not in plain.stdout
    netpol = run_helm(helm, ["install", "akvs", str(CHART), "--dry-run=client", "-n", "kube-system", "--set", "networkPolicy.enabled=true"])
    assert "WARNING: the provider runs on the host network" in netpol.stdout
