"""Unknown or misspelled settings fail with the key and the nearest valid one; wrong types fail in the
schema; the key tree of the settings check, values.yaml and values.schema.json agree."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import CHART


@pytest.mark.parametrize("setting,nearest", [
    ("secrets-store-csi-driver.enableSecretRotaton=true", "secrets-store-csi-driver.enableSecretRotation"),
    ("secrets-store-csi-driver.rotationPollIntervall=3m", "secrets-store-csi-driver.rotationPollInterval"),
    ("secrets-store-csi-driver.syncSecret.enable=true", "secrets-store-csi-driver.syncSecret.enabled"),
    ("secrets-store-csi-driver.linux.kubeletRootdir=/k", "secrets-store-csi-driver.linux.kubeletRootDir"),
    ("linux.kubeletRootDirectory=/k", "linux.kubeletRootDir"),
    ("rotationPollIntervalSeconds=120", "rotationPollIntervalInSeconds"),
    ("jitterSecond=30", "jitterSeconds"),
    ("enablePartialSync=false", "enablePartialSecretSync"),
    ("EnablePartialSecretSync=false", "enablePartialSecretSync"),
    ("enableSecretRotation=true", "secrets-store-csi-driver.enableSecretRotation"),
    ("syncController.replica=2", "syncController.replicas"),
    ("syncControler.enabled=true", "syncController"),  # reported as "syncControler", the unknown part
    ("secret-store-csi-driver.install=true", "secrets-store-csi-driver"),
    ("logVerbose=4", "logVerbosity"),
])
def test_misspelled_key_names_the_nearest(render_error, setting, nearest):
    key = setting.split("=")[0]
    if nearest.count(".") < key.count("."):  # a misspelled parent is reported, not its children
        key = ".".join(key.split(".")[: nearest.count(".") + 1])
    err = render_error([setting])
    assert f'unknown setting "{key}"' in err, err
    assert f'did you mean "{nearest}"?' in err, err


def test_every_unknown_key_is_reported_at_once(render_error):
    err = render_error(["jitterSecond=1", "linux.kubeletRootdir=/x"])
    assert '"jitterSecond"' in err and '"linux.kubeletRootdir"' in err


def test_unrelated_key_lists_the_valid_ones(render_error):
    err = render_error(["zzz=1"])
    assert 'unknown setting "zzz"; valid keys at the top level:' in err
    assert "rotationPollIntervalInSeconds" in err and "secrets-store-csi-driver" in err
    err = render_error(["syncController.qqq=1"])
    assert 'valid keys under "syncController":' in err and "replicas" in err


@pytest.mark.parametrize("setting", [
    "linux.nodeSelector.agentpool=system",
    "linux.podAnnotations.anything=goes",
    "secrets-store-csi-driver.linux.resources.limits.cpu=1",
    "syncController.podLabels.team=a",
    "syncController.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight=1",
    "commonLabels.whatever=x",
    "linux.updateStrategy.type=OnDelete",
])
def test_free_form_maps_are_not_walked(render, setting):
    render([setting])


@pytest.mark.parametrize("setting,where", [
    ("logVerbosity=loud", "/logVerbosity"),
    ("secrets-store-csi-driver.registration.mode=kubelet", "/secrets-store-csi-driver/registration/mode"),
    ("secrets-store-csi-driver.rotationPollInterval=soon", "/secrets-store-csi-driver/rotationPollInterval"),
    ("secrets-store-csi-driver.maxCallRecvMsgSize=0", "/secrets-store-csi-driver/maxCallRecvMsgSize"),
    ("rotationPollIntervalInSeconds=0", "/rotationPollIntervalInSeconds"),
    ("jitterSeconds=-1", "/jitterSeconds"),
    ("linux.kubeletRootDir=relative/path", "/linux/kubeletRootDir"),
    ("syncController.replicas=many", "/syncController/replicas"),
    ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
    ("syncController.metricsPort=70000", "/syncController/metricsPort"),
    ("secrets-store-csi-driver.tokenRequests[0].audince=x", "/secrets-store-csi-driver/tokenRequests/0"),
    ("secrets-store-csi-driver.tokenRequests[0].expirationSeconds=60", "/secrets-store-csi-driver/tokenRequests/0"),
    ("linux.extraArgs[0]=not-a-flag", "/linux/extraArgs/0"),
])
def test_schema_rejects_bad_values(render_error, setting, where):
    err = render_error([setting])
    assert where in err, err


def test_windows_is_refused(render_error):
    assert "Linux nodes only" in render_error(["windows.enabled=true"])
    assert "Linux nodes only" in render_error(["secrets-store-csi-driver.windows.enabled=true"])


def test_upstream_values_files_keep_working(render, tmp_path):
    """The keys an existing csi-secrets-store-provider-azure values file commonly carries are accepted."""
    values = {
        "logVerbosity": 2, "logFormatJSON": True, "constructPEMChain": True, "writeCertAndKeyInSeparateFiles": False,
        "imagePullSecrets": [], "rbac": {"install": True}, "windows": {"enabled": False},
        "linux": {"enabled": True, "kubeletRootDir": "/var/lib/kubelet", "providersDir": "/var/run/secrets-store-csi-providers",
                  "nodeSelector": {}, "tolerations": [{"operator": "Exists"}], "priorityClassName": "", "podAnnotations": {},
                  "resources": {"requests": {"cpu": "50m", "memory": "100Mi"}}, "healthzPort": 8989, "volumes": [], "volumeMounts": []},
        "secrets-store-csi-driver": {
            "install": True, "enableSecretRotation": True, "rotationPollInterval": "2m", "filteredWatchSecret": True,
            "syncSecret": {"enabled": True}, "tokenRequests": [{"audience": "api://AzureADTokenExchange"}],
            "linux": {"enabled": True, "kubeletRootDir": "/var/lib/kubelet", "metricsAddr": ":8095", "priorityClassName": "",
                      "providersDir": "/var/run/secrets-store-csi-providers"},
            "windows": {"enabled": False},
        },
    }
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    r = render(extra=["-f", str(path)])
    assert r.names("DaemonSet")


# --- one key tree -----------------------------------------------------------------------------


def known_keys_tree():
    text = (CHART / "templates" / "_validate.tpl").read_text()
    m = re.search(r'\{\{- define "akvs\.knownKeys" -\}\}\n(.*?)\{\{- end -\}\}', text, re.S)
    assert m, "akvs.knownKeys not found"
    return yaml.safe_load(m.group(1))


def flatten_known(tree, prefix=""):
    out = set()
    for k, v in tree.items():
        path = f"{prefix}{k}"
        out.add(path)
        if isinstance(v, dict):
            out |= flatten_known(v, path + ".")
    return out


def flatten_values(values, known, prefix=""):
    """values.yaml's keys, descending only where the known tree descends (free-form maps are leaves)."""
    out = set()
    for k, v in values.items():
        path = f"{prefix}{k}"
        out.add(path)
        sub = known.get(k) if isinstance(known, dict) else None
        if isinstance(v, dict) and isinstance(sub, dict):
            out |= flatten_values(v, sub, path + ".")
    return out


def flatten_schema(node, known, prefix=""):
    out = set()
    for k, v in node.get("properties", {}).items():
        path = f"{prefix}{k}"
        out.add(path)
        sub = known.get(k) if isinstance(known, dict) else None
        if isinstance(sub, dict):
            out |= flatten_schema(v, sub, path + ".")
    return out


def test_known_keys_match_values_yaml_and_schema():
    known = known_keys_tree()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    schema = json.loads((CHART / "values.schema.json").read_text())
    k = flatten_known(known)
    v = flatten_values(values, known)
    s = flatten_schema(schema, known)
    # digest keys are documented but optional in values.yaml for the sidecar images.
    optional = {p for p in k if p.endswith(".digest") and "Image" in p}
    assert v <= k, f"in values.yaml but not in the settings check: {sorted(v - k)}"
    assert k - v <= optional, f"in the settings check but not in values.yaml: {sorted(k - v - optional)}"
    assert k == s, f"settings check vs schema: only check {sorted(k - s)}, only schema {sorted(s - k)}"


def leaves(tree, prefix=""):
    out = set()
    for k, v in tree.items():
        out |= leaves(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}"}
    return out


def test_docs_list_every_key():
    """docs/install.md's settings tables name every setting by its full key."""
    docs = (CHART.parents[1] / "docs" / "install.md").read_text()
    missing = [p for p in sorted(leaves(known_keys_tree())) if f"`{p}`" not in docs]
    assert not missing, f"docs/install.md does not mention: {missing}"
