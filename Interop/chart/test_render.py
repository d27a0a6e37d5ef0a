"""What the chart renders for the seeds' settings: names, labels, flags, mounts, ports, RBAC."""

from __future__ import annotations

import pytest

from conftest import COMBINATIONS, akvs_containers, container, containers, flag, flag_values

DRIVER = "akvs-secrets-store-csi-driver"
PROVIDER = "akvs-secrets-store-provider-azure"
SYNC = "akvs-secrets-store-sync-controller"


def driver_args(rendered, name=DRIVER):
    return container(rendered.get("DaemonSet", name), "secrets-store")["args"]


def sync_args(rendered, name=SYNC):
    return container(rendered.get("Deployment", name), "manager")["args"]


def volumes(workload):
    return {v["name"]: v for v in workload["spec"]["template"]["spec"]["volumes"]}


def mounts(c):
    return {m["mountPath"]: m for m in c.get("volumeMounts", [])}


def ports(c):
    return {p["name"]: p["containerPort"] for p in c.get("ports", [])}


# --- defaults -----------------------------------------------------------------------------------


def test_defaults_install_the_csi_role_only(render):
    r = render()
    assert r.names("DaemonSet") == [DRIVER, PROVIDER]
    assert r.names("CSIDriver") == ["secrets-store.csi.k8s.io"]
    assert not r.of_kind("Deployment")
    assert not r.of_kind("ValidatingAdmissionPolicy")
    assert sorted(r.names("ServiceAccount")) == [DRIVER, PROVIDER]


def test_defaults_driver_flags(render):
    args = driver_args(render())
    assert flag(args, "endpoint") == "unix:///csi/csi.sock"
    assert flag(args, "nodeid") == "$(KUBE_NODE_NAME)"
    assert flag(args, "provider-volume") == "/var/run/secrets-store-csi-providers"
    assert flag(args, "additional-provider-volume-paths") == "/etc/kubernetes/secrets-store-csi-providers"
    assert flag(args, "enable-secret-rotation") == "false"
    assert flag(args, "rotation-poll-interval") == "2m"
    assert flag(args, "enable-secret-sync") == "false"
    assert flag(args, "max-call-recv-msg-size") == "4194304"
    assert flag(args, "metrics-addr") == ":8095"
    assert flag(args, "health-addr") == ":9808"
    assert flag(args, "log-level") == "info"
    assert "log-format-json" not in flag_values(args)


def test_driver_container_shape(render):
    ds = render().get("DaemonSet", DRIVER)
    c = container(ds, "secrets-store")
    assert c["command"] == ["/akvs", "csi-driver"]
    assert c["securityContext"]["privileged"] is True
    assert c["securityContext"]["runAsUser"] == 0, "mounting needs root; the image runs as 65532 by default"
    assert ports(c) == {"healthz": 9808, "metrics": 8095}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    env = {e["name"]: e for e in c["env"]}
    assert env["KUBE_NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    m = mounts(c)
    assert m["/var/lib/kubelet/pods"]["mountPropagation"] == "Bidirectional"
    assert m["/csi"]["name"] == "plugin-dir"
    assert m["/registration"]["name"] == "registration-dir"
    assert m["/var/run/secrets-store-csi-providers"]["name"] == "providers-dir"
    v = volumes(ds)
    assert v["mountpoint-dir"]["hostPath"]["path"] == "/var/lib/kubelet/pods"
    assert v["plugin-dir"]["hostPath"]["path"] == "/var/lib/kubelet/plugins/csi-secrets-store/"
    assert v["registration-dir"]["hostPath"] == {"path": "/var/lib/kubelet/plugins_registry/", "type": "Directory"}
    assert v["providers-dir"]["hostPath"]["path"] == "/var/run/secrets-store-csi-providers"
    spec = ds["spec"]["template"]["spec"]
    assert spec["nodeSelector"]["kubernetes.io/os"] == "linux"
    assert spec["serviceAccountName"] == DRIVER


def test_provider_container_shape(render):
    ds = render().get("DaemonSet", PROVIDER)
    c = container(ds, "provider-azure-installer")
    assert c["command"] == ["/akvs", "provider"]
    args = c["args"]
    assert flag(args, "endpoint") == "unix:///provider/azure.sock"
    assert flag(args, "construct-pem-chain") == "true"
    assert flag(args, "write-cert-and-key-in-separate-files") == "false"
    assert flag(args, "healthz-port") == "8989"
    assert flag(args, "healthz-path") == "/healthz"
    assert flag(args, "healthz-timeout") == "5s"
    assert flag(args, "prometheus-port") == "8898"
    assert ports(c) == {"metrics": 8898, "healthz": 8989}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert mounts(c)["/provider"]["name"] == "provider-vol"
    assert volumes(ds)["provider-vol"]["hostPath"]["path"] == "/var/run/secrets-store-csi-providers"
    spec = ds["spec"]["template"]["spec"]
    assert spec["hostNetwork"] is True
    assert spec["automountServiceAccountToken"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False


def test_csidriver_defaults(render):
    spec = render().get("CSIDriver", "secrets-store.csi.k8s.io")["spec"]
    assert spec["podInfoOnMount"] is True
    assert spec["attachRequired"] is False
    assert spec["volumeLifecycleModes"] == ["Ephemeral"]
    # akvs.republish: kubelet republishes even without rotation (stale content replaced, per-class rotation, refresh).
    assert spec["requiresRepublish"] is True
    assert render(["secrets-store-csi-driver.akvs.republish=false"]).get("CSIDriver", "secrets-store.csi.k8s.io")["spec"]["requiresRepublish"] is False
    assert spec["tokenRequests"] == [{"audience": "api://AzureADTokenExchange"}]


def test_default_image_is_the_app_version(render):
    for _, c in akvs_containers(render(["syncController.enabled=true"])):
        assert c["image"] == "akvs:0.1.0"
        assert c["imagePullPolicy"] == "IfNotPresent"


def test_image_settings(render):
    r = render(["syncController.enabled=true", "image.repository=registry.example/akvs", "image.tag=1.2.3",
                "image.pullPolicy=Always", "imagePullSecrets[0].name=regcred"])
    for w, c in akvs_containers(r):
        assert c["image"] == "registry.example/akvs:1.2.3"
        assert c["imagePullPolicy"] == "Always"
        assert w["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "regcred"}]
    digest = "sha256:" + "a" * 64
    for _, c in akvs_containers(render([f"image.digest={digest}"])):
        assert c["image"] == f"akvs@{digest}"


# --- the seeds' commands ----------------------------------------------------------------------


def test_rotation_settings(render):
    r = render(COMBINATIONS["rotation"])
    args = driver_args(r)
    assert flag(args, "enable-secret-rotation") == "true"
    assert flag(args, "rotation-poll-interval") == "3m"
    assert flag(args, "enable-secret-sync") == "true"
    assert r.get("CSIDriver", "secrets-store.csi.k8s.io")["spec"]["requiresRepublish"] is True
    # syncSecret.enabled grants the driver what SecretObjectSync calls on Secrets: get, create, update, and delete
    # (only to recreate a managed Secret whose type changed).
    role = r.get("ClusterRole", f"{DRIVER}-syncsecret")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "delete", "get", "update"]}]
    binding = r.get("ClusterRoleBinding", f"{DRIVER}-syncsecret")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": DRIVER, "namespace": "kube-system"}]


def test_no_secret_rbac_without_sync_secret(render):
    assert f"{DRIVER}-syncsecret" not in render().names("ClusterRole")


def test_custom_kubelet_dir(render):
    r = render(COMBINATIONS["kubelet-dir"])
    ds = r.get("DaemonSet", DRIVER)
    v = volumes(ds)
    assert v["mountpoint-dir"]["hostPath"]["path"] == "/path/to/kubelet/pods"
    assert v["plugin-dir"]["hostPath"]["path"] == "/path/to/kubelet/plugins/csi-secrets-store/"
    assert v["registration-dir"]["hostPath"]["path"] == "/path/to/kubelet/plugins_registry/"
    c = container(ds, "secrets-store")
    assert mounts(c)["/path/to/kubelet/pods"]["mountPropagation"] == "Bidirectional"
    assert flag(c["args"], "kubelet-registration-path") == "/path/to/kubelet/plugins/csi-secrets-store/csi.sock"
    assert "/var/lib/kubelet" not in r.text


@pytest.mark.parametrize("settings", [
    ["linux.kubeletRootDir=/k"],
    ["secrets-store-csi-driver.linux.kubeletRootDir=/k"],
    ["linux.kubeletRootDir=/other", "secrets-store-csi-driver.linux.kubeletRootDir=/k"],
], ids=["top-level", "driver-block", "driver-block-wins"])
def test_kubelet_dir_precedence(render, settings):
    ds = render(settings).get("DaemonSet", DRIVER)
    assert volumes(ds)["mountpoint-dir"]["hostPath"]["path"] == "/k/pods"
    assert flag(container(ds, "secrets-store")["args"], "kubelet-registration-path") == "/k/plugins/csi-secrets-store/csi.sock"


def test_kubelet_dir_in_sidecar_mode(render):
    ds = render(COMBINATIONS["kubelet-dir"] + COMBINATIONS["sidecars"]).get("DaemonSet", DRIVER)
    reg = container(ds, "node-driver-registrar")
    assert flag(reg["args"], "kubelet-registration-path") == "/path/to/kubelet/plugins/csi-secrets-store/csi.sock"


def test_sse_settings(render):
    args = sync_args(render(COMBINATIONS["sse-settings"]))
    assert flag(args, "rotation-poll-interval") == "120s"
    assert flag(args, "jitter-seconds") == "30"
    assert flag(args, "enable-partial-secret-sync") == "false"


def test_sse_defaults(render):
    r = render(["syncController.enabled=true"])
    dep = r.get("Deployment", SYNC)
    assert dep["spec"]["replicas"] == 1
    c = container(dep, "manager")
    assert c["command"] == ["/akvs", "sync-controller"]
    args = c["args"]
    assert flag(args, "rotation-poll-interval") == "3600s"
    assert flag(args, "jitter-seconds") == "0"
    assert flag(args, "enable-partial-secret-sync") == "true"
    assert flag(args, "token-request-audience") == "api://AzureADTokenExchange"
    assert flag(args, "leader-elect") == ""
    assert flag(args, "leader-election-namespace") == "kube-system"
    assert flag(args, "metrics-bind-address") == ":8085"
    assert flag(args, "health-probe-bind-address") == ":8081"
    assert flag(args, "provider-volume") == "/provider"
    assert "enable-drift-repair" not in flag_values(args)
    env = {e["name"]: e["valueFrom"]["fieldRef"]["fieldPath"] for e in c["env"] if "valueFrom" in e}
    assert env == {"SYNC_CONTROLLER_POD_NAME": "metadata.name", "SYNC_CONTROLLER_POD_UID": "metadata.uid",
                   "SYNC_CONTROLLER_POD_NAMESPACE": "metadata.namespace"}
    assert ports(c) == {"metrics": 8085, "health": 8081}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    svc = r.get("Service", "akvs-sync-controller-metrics")
    assert svc["spec"]["ports"][0]["port"] == 8085
    assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("value,expected", [("false", "false"), ("true", "true")])
def test_extension_booleans_as_strings(render, value, expected):
    """Configuration settings may arrive as strings; "false" must not read as true."""
    r = render(["syncController.enabled=true"], extra=["--set-string", f"enablePartialSecretSync={value}",
                                                      "--set-string", f"secrets-store-csi-driver.enableSecretRotation={value}",
                                                      "--set-string", "secrets-store-csi-driver.akvs.republish=false"])
    assert flag(sync_args(r), "enable-partial-secret-sync") == expected
    assert flag(driver_args(r), "enable-secret-rotation") == expected
    assert r.get("CSIDriver", "secrets-store.csi.k8s.io")["spec"]["requiresRepublish"] is (expected == "true")


def test_two_replicas(render):
    r = render(COMBINATIONS["both-roles"])
    dep = r.get("Deployment", SYNC)
    assert dep["spec"]["replicas"] == 2
    assert "leader-elect" in flag_values(sync_args(r))
    lease_verbs = set()
    for rule in r.get("Role", f"{SYNC}-leader-election")["rules"]:
        if rule["apiGroups"] == ["coordination.k8s.io"] and "leases" in rule["resources"]:
            lease_verbs |= set(rule["verbs"])
    assert lease_verbs == {"get", "create", "update"}


def test_both_roles(render):
    r = render(COMBINATIONS["both-roles"])
    assert r.names("DaemonSet") == [DRIVER, PROVIDER]
    assert r.names("Deployment") == [SYNC]
    assert r.names("CSIDriver") == ["secrets-store.csi.k8s.io"]


def test_sync_only(render):
    r = render(COMBINATIONS["sync-only"])
    assert not r.of_kind("DaemonSet")
    assert not r.of_kind("CSIDriver")
    assert r.names("Deployment") == [SYNC]


# --- kubelet registration ---------------------------------------------------------------------


def test_builtin_registration(render):
    ds = render(COMBINATIONS["builtin"]).get("DaemonSet", DRIVER)
    assert [c["name"] for c in containers(ds)] == ["secrets-store"]
    args = container(ds, "secrets-store")["args"]
    assert flag(args, "kubelet-registration-path") == "/var/lib/kubelet/plugins/csi-secrets-store/csi.sock"
    assert flag(args, "plugin-registration-dir") == "/registration"
    assert flag(args, "health-addr") == ":9808"


def test_sidecar_registration(render):
    ds = render(COMBINATIONS["sidecars"]).get("DaemonSet", DRIVER)
    assert [c["name"] for c in containers(ds)] == ["node-driver-registrar", "secrets-store", "liveness-probe"]
    reg = container(ds, "node-driver-registrar")
    assert reg["image"] == "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.16.0"
    assert flag(reg["args"], "csi-address") == "/csi/csi.sock"
    assert flag(reg["args"], "kubelet-registration-path") == "/var/lib/kubelet/plugins/csi-secrets-store/csi.sock"
    assert mounts(reg)["/registration"]["name"] == "registration-dir"
    probe = container(ds, "liveness-probe")
    assert probe["image"] == "registry.k8s.io/sig-storage/livenessprobe:v2.18.0"
    assert probe["args"] == ["--csi-address=/csi/csi.sock", "--probe-timeout=3s", "--http-endpoint=0.0.0.0:9808", "-v=2"]
    driver = container(ds, "secrets-store")
    values = flag_values(driver["args"])
    assert values["health-addr"] == ["off"], "the sidecar owns :9808, the driver's listener must be off"
    assert "kubelet-registration-path" not in values and "plugin-registration-dir" not in values
    assert "/registration" not in mounts(driver)


def test_sidecar_images_follow_both_key_spellings(render):
    r = render(COMBINATIONS["sidecars"] + ["linux.registrarImage.repository=mirror/registrar",
                                           "secrets-store-csi-driver.linux.registrarImage.tag=v9",
                                           "secrets-store-csi-driver.linux.livenessProbeImage.repository=mirror/probe",
                                           "linux.livenessProbeImage.pullPolicy=Always"])
    ds = r.get("DaemonSet", DRIVER)
    assert container(ds, "node-driver-registrar")["image"] == "mirror/registrar:v9"
    probe = container(ds, "liveness-probe")
    assert probe["image"] == "mirror/probe:v2.18.0"
    assert probe["imagePullPolicy"] == "Always"


# --- names and labels -------------------------------------------------------------------------


def test_aks_names_and_labels(render):
    r = render(COMBINATIONS["aks-names"])
    assert r.names("DaemonSet") == ["aks-secrets-store-csi-driver", "aks-secrets-store-provider-azure"]
    driver = r.get("DaemonSet", "aks-secrets-store-csi-driver")
    provider = r.get("DaemonSet", "aks-secrets-store-provider-azure")
    assert driver["spec"]["template"]["metadata"]["labels"]["app"] == "secrets-store-csi-driver"
    assert provider["spec"]["template"]["metadata"]["labels"]["app"] == "secrets-store-provider-azure"
    # `kubectl port-forward ds/aks-secrets-store-provider-azure 8898:8898` needs the port on the pod.
    assert 8898 in ports(container(provider, "provider-azure-installer")).values()
    assert driver["metadata"]["namespace"] == "kube-system"


def test_label_selector_of_the_seed_matches_both_daemonsets(render):
    """`-l 'app in (secrets-store-csi-driver,secrets-store-provider-azure)'` selects the pods of both."""
    r = render(COMBINATIONS["aks-names"])
    wanted = {"secrets-store-csi-driver", "secrets-store-provider-azure"}
    for ds in r.of_kind("DaemonSet"):
        labels = ds["spec"]["template"]["metadata"]["labels"]
        assert labels["app"] in wanted
        for k, v in ds["spec"]["selector"]["matchLabels"].items():
            assert labels[k] == v


def test_release_name_and_overrides(render, helm):
    from conftest import CHART, run_helm
    import yaml

    text = run_helm(helm, ["template", "prod", str(CHART), "-n", "x"]).stdout
    names = sorted(o["metadata"]["name"] for o in yaml.safe_load_all(text) if o and o["kind"] == "DaemonSet")
    assert names == ["prod-akvs-secrets-store-csi-driver", "prod-akvs-secrets-store-provider-azure"]
    r = render(["nameOverride=vault"])
    assert r.names("DaemonSet") == ["akvs-vault-secrets-store-csi-driver", "akvs-vault-secrets-store-provider-azure"]


def test_names_fit_in_63_characters(render, render_error, helm):
    from conftest import CHART, run_helm
    import yaml

    r = render(["fullnameOverride=" + "a" * 33, "syncController.enabled=true"])
    long_release = run_helm(helm, ["template", "r" * 53, str(CHART), "--set", "syncController.enabled=true"]).stdout
    for objects in (r.objects, [o for o in yaml.safe_load_all(long_release) if o]):
        for o in objects:
            if o["kind"] in ("DaemonSet", "Deployment", "Service", "ServiceAccount"):
                assert len(o["metadata"]["name"]) <= 63, o["metadata"]["name"]
    assert "fullnameOverride" in render_error(["fullnameOverride=" + "a" * 34])


def test_common_labels(render):
    r = render(["commonLabels.team=payments", "syncController.enabled=true"])
    for o in r.objects:
        assert o["metadata"]["labels"]["team"] == "payments", (o["kind"], o["metadata"]["name"])


# --- logs, tokens, extras ---------------------------------------------------------------------


@pytest.mark.parametrize("verbosity,level", [(0, "info"), (3, "info"), (4, "debug"), (5, "debug"), (6, "trace"), (10, "trace")])
def test_log_verbosity(render, verbosity, level):
    r = render(["syncController.enabled=true", f"logVerbosity={verbosity}"])
    found = akvs_containers(r)
    assert len(found) == 3
    for _, c in found:
        assert flag(c["args"], "log-level") == level


def test_log_format_json(render):
    for _, c in akvs_containers(render(["syncController.enabled=true", "logFormatJSON=true"])):
        assert flag(c["args"], "log-format-json") == "true"


def test_token_requests(render):
    r = render(["secrets-store-csi-driver.tokenRequests[0].audience=api://custom",
                "secrets-store-csi-driver.tokenRequests[0].expirationSeconds=3600"])
    assert r.get("CSIDriver", "secrets-store.csi.k8s.io")["spec"]["tokenRequests"] == [
        {"audience": "api://AzureADTokenExchange"}, {"audience": "api://custom", "expirationSeconds": 3600}]
    r = render(["secrets-store-csi-driver.tokenRequests[0].audience=api://AzureADTokenExchange",
                "secrets-store-csi-driver.tokenRequests[1].audience=api://AzureADTokenExchange"])
    assert r.get("CSIDriver", "secrets-store.csi.k8s.io")["spec"]["tokenRequests"] == [{"audience": "api://AzureADTokenExchange"}]


def test_token_in_secrets_follows_the_kubernetes_version(render):
    assert render(extra=["--kube-version", "1.35.0"]).get("CSIDriver", "secrets-store.csi.k8s.io")["spec"]["serviceAccountTokenInSecrets"] is True
    assert "serviceAccountTokenInSecrets" not in render(extra=["--kube-version", "1.34.0"]).get("CSIDriver", "secrets-store.csi.k8s.io")["spec"]


def test_provider_settings(render):
    args = container(render(["constructPEMChain=false", "writeCertAndKeyInSeparateFiles=true", "metricsAddr=9000",
                             "linux.extraArgs[0]=--object-cache-ttl=120"]).get("DaemonSet", PROVIDER), "provider-azure-installer")["args"]
    assert flag(args, "construct-pem-chain") == "false"
    assert flag(args, "write-cert-and-key-in-separate-files") == "true"
    assert flag(args, "prometheus-port") == "9000"
    assert args[-1] == "--object-cache-ttl=120"


def test_extra_args_env_volumes(render):
    r = render(["syncController.enabled=true",
                "secrets-store-csi-driver.linux.extraArgs[0]=--provider-timeout=30s",
                "syncController.extraArgs[0]=--workers=8",
                "linux.env[0].name=AZURE_ENVIRONMENT_FILEPATH", "linux.env[0].value=/etc/kubernetes/custom.json",
                "linux.volumes[0].name=cloud", "linux.volumes[0].hostPath.path=/etc/kubernetes/custom.json",
                "linux.volumeMounts[0].name=cloud", "linux.volumeMounts[0].mountPath=/etc/kubernetes/custom.json",
                "linux.volumeMounts[0].readOnly=true"])
    assert driver_args(r)[-1] == "--provider-timeout=30s"
    assert sync_args(r)[-1] == "--workers=8"
    provider = r.get("DaemonSet", PROVIDER)
    c = container(provider, "provider-azure-installer")
    assert {"name": "AZURE_ENVIRONMENT_FILEPATH", "value": "/etc/kubernetes/custom.json"} in c["env"]
    assert mounts(c)["/etc/kubernetes/custom.json"] == {"name": "cloud", "mountPath": "/etc/kubernetes/custom.json", "readOnly": True}
    assert volumes(provider)["cloud"]["hostPath"]["path"] == "/etc/kubernetes/custom.json"


def test_scheduling_settings(render):
    r = render(["linux.nodeSelector.pool=system", "linux.priorityClassName=system-node-critical",
                "linux.podAnnotations.team=a", "secrets-store-csi-driver.linux.podAnnotations.team=b",
                "linux.resources.limits.memory=300Mi"])
    for name in (DRIVER, PROVIDER):
        spec = r.get("DaemonSet", name)["spec"]["template"]["spec"]
        assert spec["nodeSelector"] == {"kubernetes.io/os": "linux", "pool": "system"}
        assert spec["priorityClassName"] == "system-node-critical"
        assert spec["tolerations"] == [{"operator": "Exists"}]
    assert r.get("DaemonSet", DRIVER)["spec"]["template"]["metadata"]["annotations"]["team"] == "b"
    assert r.get("DaemonSet", PROVIDER)["spec"]["template"]["metadata"]["annotations"]["team"] == "a"
    assert container(r.get("DaemonSet", PROVIDER), "provider-azure-installer")["resources"]["limits"]["memory"] == "300Mi"


def test_custom_providers_dir(render):
    r = render(["linux.providersDir=/run/providers"])
    assert volumes(r.get("DaemonSet", PROVIDER))["provider-vol"]["hostPath"]["path"] == "/run/providers"
    ds = r.get("DaemonSet", DRIVER)
    assert volumes(ds)["providers-dir"]["hostPath"]["path"] == "/run/providers"
    assert flag(container(ds, "secrets-store")["args"], "provider-volume") == "/var/run/secrets-store-csi-providers"


def test_provider_only(render):
    r = render(["secrets-store-csi-driver.install=false"])
    assert r.names("DaemonSet") == [PROVIDER]
    assert not r.of_kind("CSIDriver")


# --- RBAC ---------------------------------------------------------------------------------------


def rules_by_resource(role):
    out = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                out.setdefault((group, res), set()).update(rule["verbs"])
    return out


def test_sync_cluster_role_grants_what_the_controller_calls(render):
    """Sources/SyncController: informers (list, watch) on SecretSyncs and SecretProviderClasses, status by PUT,
    Secrets by POST then JSON patch, TokenRequests, events.k8s.io Events (create, patch of a series). Upstream's
    role also grants core events and get/patch it never uses here."""
    rules = rules_by_resource(render(["syncController.enabled=true"]).get("ClusterRole", SYNC))
    assert rules == {
        ("events.k8s.io", "events"): {"create", "patch"},
        ("", "secrets"): {"create", "patch"},
        ("", "serviceaccounts/token"): {"create"},
        ("secrets-store.csi.x-k8s.io", "secretproviderclasses"): {"list", "watch"},
        ("secret-sync.x-k8s.io", "secretsyncs"): {"list", "watch"},
        ("secret-sync.x-k8s.io", "secretsyncs/status"): {"update"},
    }


def test_sync_extra_roles(render):
    r = render(["syncController.enabled=true"])
    akv = rules_by_resource(r.get("ClusterRole", f"{SYNC}-akvsync"))
    assert akv == {
        ("secret-sync.x-k8s.io", "akvsyncs"): {"list", "watch"},
        ("secret-sync.x-k8s.io", "akvsyncs/status"): {"update"},
        ("secret-sync.x-k8s.io", "secretsyncs"): {"create", "update", "delete"},
        ("secrets-store.csi.x-k8s.io", "secretproviderclasses"): {"create", "update"},
    }
    assert f"{SYNC}-drift-repair" not in r.names("ClusterRole")
    role = r.get("Role", f"{SYNC}-leader-election")
    assert role["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["29f1d54e.secret-sync.x-k8s.io"], "verbs": ["get", "update"]},
        {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["akvs-sync-controller-hash-key"], "verbs": ["get"]},
    ]
    drift = render(["syncController.enabled=true", "syncController.enableDriftRepair=true"])
    assert rules_by_resource(drift.get("ClusterRole", f"{SYNC}-drift-repair")) == {("", "secrets"): {"list", "watch"}}
    assert "enable-drift-repair" in flag_values(sync_args(drift))


def test_driver_cluster_role(render):
    """Sources/CSIDriver: a watch of SecretProviderClasses (read from the cache, never by get) and of the node's pods' metadata
    (akvs.watchPods), SecretProviderClassPodStatus create/get/update/delete and a list by node label, events.k8s.io
    Events. No CSIDrivers, Secrets (without syncSecret) or serviceaccounts/token: kubelet hands the pod's details and
    tokens over (podInfoOnMount, tokenRequests)."""
    rules = rules_by_resource(render().get("ClusterRole", DRIVER))
    assert rules == {
        ("events.k8s.io", "events"): {"create", "patch"},
        ("", "pods"): {"list", "watch"},
        ("secrets-store.csi.x-k8s.io", "secretproviderclasses"): {"list", "watch"},
        ("secrets-store.csi.x-k8s.io", "secretproviderclasspodstatuses"): {"create", "delete", "get", "list", "update"},
    }
    without_pods = rules_by_resource(render(["secrets-store-csi-driver.akvs.watchPods=false"]).get("ClusterRole", DRIVER))
    assert ("", "pods") not in without_pods and flag(driver_args(render(["secrets-store-csi-driver.akvs.watchPods=false"])), "watch-pods") == "false"
    for combination in COMBINATIONS.values():
        for role in render(combination).of_kind("ClusterRole") + render(combination).of_kind("Role"):
            if role["metadata"]["name"].startswith(DRIVER):
                assert ("", "serviceaccounts/token") not in rules_by_resource(role), role["metadata"]["name"]


def test_restarter(render):
    """restarter.enabled: `akvs restarter` with its flags, leader-elected; RBAC exactly what Sources/Restarter calls
    (informers on the three workload kinds, Secrets and pod statuses; a merge patch of a workload; Events; its Lease)."""
    assert "akvs-restarter" not in render().names("Deployment")
    r = render(COMBINATIONS["restarter"])
    dep = r.get("Deployment", "akvs-restarter")
    assert dep["spec"]["replicas"] == 2
    c = dep["spec"]["template"]["spec"]["containers"][0]
    assert c["command"] == ["/akvs", "restarter"]
    args = c["args"]
    assert flag(args, "restart-debounce") == "1m" and flag(args, "max-concurrent-restarts") == "3"
    assert flag(args, "leader-election-namespace") == "kube-system" and "--leader-elect" in args
    assert c["securityContext"]["readOnlyRootFilesystem"] is True and c["securityContext"]["allowPrivilegeEscalation"] is False
    assert rules_by_resource(r.get("ClusterRole", "akvs-restarter")) == {
        ("apps", "deployments"): {"list", "patch", "watch"},
        ("apps", "statefulsets"): {"list", "patch", "watch"},
        ("apps", "daemonsets"): {"list", "patch", "watch"},
        ("", "secrets"): {"list", "watch"},
        ("secrets-store.csi.x-k8s.io", "secretproviderclasspodstatuses"): {"list", "watch"},
        ("events.k8s.io", "events"): {"create", "patch"},
    }
    assert r.get("Role", "akvs-restarter-leader-election")["rules"] == [
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "resourceNames": ["akvs-restarter"], "verbs": ["get", "update"]},
    ]


def test_api_token_only_in_the_containers_that_call_the_api(render):
    """No pod mounts a service-account token automatically; the driver's and the controller's akvs containers
    mount the projected token themselves, sidecars and the provider get none."""
    r = render(COMBINATIONS["everything"] + ["syncController.providerContainers[0].name=other-provider",
                                             "syncController.providerContainers[0].image=example/provider:1"])
    for w in r.workloads():
        spec = w["spec"]["template"]["spec"]
        assert spec["automountServiceAccountToken"] is False, w["metadata"]["name"]
        for c in spec["containers"]:
            mounted = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            calls_api = c.get("command", [None, None])[:2] in (["/akvs", "csi-driver"], ["/akvs", "sync-controller"], ["/akvs", "restarter"])
            assert (mounted.get("/var/run/secrets/kubernetes.io/serviceaccount") == "kube-api-access") is calls_api, (w["metadata"]["name"], c["name"])
    for name in (DRIVER, SYNC, PROVIDER):
        assert r.get("ServiceAccount", name)["automountServiceAccountToken"] is False
    volume = volumes(r.get("Deployment", SYNC))["kube-api-access"]["projected"]["sources"]
    assert volume[0]["serviceAccountToken"]["path"] == "token"
    assert volume[1]["configMap"]["name"] == "kube-root-ca.crt"
    assert volume[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"


def test_security_contexts(render):
    """seccomp RuntimeDefault on every pod; read-only root file systems; capabilities dropped everywhere but in
    the privileged driver container (which has them all: the runtime ignores a drop list there)."""
    r = render(COMBINATIONS["everything"])
    for w in r.workloads():
        spec = w["spec"]["template"]["spec"]
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, w["metadata"]["name"]
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, c["name"]
            if sc.get("privileged"):
                assert c["name"] == "secrets-store" and "capabilities" not in sc
            else:
                assert sc["allowPrivilegeEscalation"] is False, c["name"]
                assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
            assert "livenessProbe" in c or c["name"] in ("node-driver-registrar", "liveness-probe"), c["name"]
    for name in (DRIVER, PROVIDER):
        c = [c for c in containers(r.get("DaemonSet", name)) if c["command"][0] == "/akvs"][0] if name == PROVIDER else container(r.get("DaemonSet", name), "secrets-store")
        assert c["readinessProbe"]["httpGet"]["port"] == "healthz"


def test_rbac_install_false(render):
    r = render(["rbac.install=false", "syncController.enabled=true"])
    for kind in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"):
        assert not r.of_kind(kind), kind
    assert r.names("DaemonSet") and r.names("Deployment")


def test_every_binding_names_a_rendered_role_and_account(render):
    r = render(COMBINATIONS["everything"])
    accounts = set(r.names("ServiceAccount"))
    for b in r.of_kind("ClusterRoleBinding") + r.of_kind("RoleBinding"):
        kind = b["roleRef"]["kind"]
        assert b["roleRef"]["name"] in r.names(kind), b["metadata"]["name"]
        for s in b["subjects"]:
            assert s["name"] in accounts
    for w in r.workloads():
        assert w["spec"]["template"]["spec"]["serviceAccountName"] in accounts


def test_one_process_node_role(render):
    """azureProvider.mode=in-process: no provider DaemonSet; the driver serves provider azure with the provider's settings."""
    from conftest import COMBINATIONS
    r = render(COMBINATIONS["one-process"])
    assert [d["metadata"]["name"] for d in r.of_kind("DaemonSet")] == [DRIVER]
    ds = r.get("DaemonSet", DRIVER)
    c = container(ds, "secrets-store")
    assert "--azure-provider=in-process" in c["args"] and "--construct-pem-chain=false" in c["args"]
    assert ds["spec"]["template"]["spec"].get("hostNetwork") is True, "IMDS (managed identity) needs the host network, as the provider DaemonSet has"
    assert {"name": "cloud", "mountPath": "/etc/kubernetes", "readOnly": True} in c["volumeMounts"]
    assert any(v["name"] == "cloud" for v in ds["spec"]["template"]["spec"]["volumes"])
    default = render([])
    assert "--azure-provider=in-process" not in container(default.get("DaemonSet", DRIVER), "secrets-store")["args"]
    assert len(default.of_kind("DaemonSet")) == 2, "the default keeps the provider DaemonSet (seed-compatible layout)"


# --- NetworkPolicy ----------------------------------------------------------------------------------------------------


def test_network_policies_are_opt_in(render):
    for combination, settings in COMBINATIONS.items():
        if "networkPolicy.enabled=true" not in settings:
            assert not render(settings).of_kind("NetworkPolicy"), combination


def test_network_policies(render):
    r = render(COMBINATIONS["hardened"])
    policies = {p["metadata"]["name"]: p for p in r.of_kind("NetworkPolicy")}
    assert sorted(policies) == [DRIVER, PROVIDER, SYNC]
    metrics = {DRIVER: 8095, PROVIDER: 8898, SYNC: 8085}
    for w in r.workloads():
        spec = policies[w["metadata"]["name"]]["spec"]
        labels = w["spec"]["template"]["metadata"]["labels"]
        assert all(labels[k] == v for k, v in spec["podSelector"]["matchLabels"].items())
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        assert spec["ingress"] == [{"ports": [{"protocol": "TCP", "port": metrics[w["metadata"]["name"]]}],
                                    "from": [{"namespaceSelector": {"matchLabels": {"team": "observability"}}}]}]
        egress = spec["egress"]
        assert {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]} in egress
        assert {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]} in egress
        imds = {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"port": 80, "protocol": "TCP"}]}
        # The driver reaches no vault unless it serves provider azure itself.
        assert (imds in egress) is (w["metadata"]["name"] != DRIVER)
    # The provider's pods leave the host network so that the policy applies to them.
    assert "hostNetwork" not in r.get("DaemonSet", PROVIDER)["spec"]["template"]["spec"]
    one = render(COMBINATIONS["one-process"] + ["networkPolicy.enabled=true", "networkPolicy.egressTCPPorts[0]=8443",
                                                  "networkPolicy.extraEgress[0].ports[0].port=3128"])
    egress = one.get("NetworkPolicy", DRIVER)["spec"]["egress"]
    assert {"to": [{"ipBlock": {"cidr": "169.254.169.254/32"}}], "ports": [{"port": 80, "protocol": "TCP"}]} in egress
    assert {"ports": [{"port": 8443, "protocol": "TCP"}]} in egress
    assert egress[-1] == {"ports": [{"port": 3128}]}
    assert "from" not in one.get("NetworkPolicy", DRIVER)["spec"]["ingress"][0], "no metricsFrom: anyone may scrape"
