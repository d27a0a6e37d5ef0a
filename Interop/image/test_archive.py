"""The archive as OCI and Docker loaders read it: layout, index, manifest, config, layer."""

import calendar
import gzip
import hashlib
import re
import subprocess
import tarfile
import time

import pytest

from conftest import ROOT, TEST_TAG, sha256_file

MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LABELS = {"title", "description", "version", "source", "licenses", "revision", "created"}


def full_name(familiar):
    return f"docker.io/library/{familiar}"


def test_archive_holds_only_the_layout_and_manifest_json(image):
    with tarfile.open(image.archive) as tar:
        names = tar.getnames()
    top = {n.split("/")[0] for n in names}
    assert top == {"oci-layout", "index.json", "manifest.json", "blobs"}
    assert all(re.fullmatch(r"blobs(/sha256(/[0-9a-f]{64})?)?", n) for n in names if n.startswith("blobs"))
    assert image.json("oci-layout") == {"imageLayoutVersion": "1.0.0"}


def test_index_names_every_tag(image):
    index = image.index
    assert index["schemaVersion"] == 2 and index["mediaType"] == MT_INDEX
    entries = index["manifests"]
    assert [e["annotations"]["io.containerd.image.name"] for e in entries] == \
        [full_name(n) for n in image.names]
    assert [e["annotations"]["org.opencontainers.image.ref.name"] for e in entries] == \
        [n.split(":")[1] for n in image.names]
    assert len({e["digest"] for e in entries}) == 1, "every tag names the same manifest"
    for entry in entries:
        assert entry["mediaType"] == MT_MANIFEST
        assert entry["platform"] == {"architecture": image.config["architecture"], "os": "linux"}


def test_version_tag_is_what_the_binary_prints(image):
    assert image.names[0] == f"akvs:{image.version}"
    assert re.fullmatch(r"\d+\.\d+\.\d+([-+.][\w.-]+)?", image.version)


def test_every_descriptor_matches_its_blob(image):
    seen = set()

    def check(descriptor):
        path = image.blob_path(descriptor["digest"])
        assert path.is_file(), f"{descriptor['digest']} is not in blobs/"
        assert path.stat().st_size == descriptor["size"], f"size of {descriptor['digest']}"
        assert sha256_file(path) == descriptor["digest"], f"content of {descriptor['digest']}"
        seen.add(path.name)

    for entry in image.index["manifests"]:
        check(entry)
    manifest = image.manifest
    assert manifest["schemaVersion"] == 2 and manifest["mediaType"] == MT_MANIFEST
    assert manifest["config"]["mediaType"] == MT_CONFIG
    check(manifest["config"])
    assert manifest["layers"], "no layers"
    for layer in manifest["layers"]:
        assert layer["mediaType"] == MT_LAYER_GZIP
        check(layer)
    blobs = {p.name for p in (image.layout / "blobs" / "sha256").iterdir()}
    assert blobs == seen, f"unreferenced blobs: {blobs - seen}"


def test_diff_ids_are_the_uncompressed_layers(image):
    config = image.config
    assert config["rootfs"]["type"] == "layers"
    diff_ids = []
    for layer in image.manifest["layers"]:
        digest = hashlib.sha256()
        with gzip.open(image.blob_path(layer["digest"])) as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        diff_ids.append("sha256:" + digest.hexdigest())
    assert config["rootfs"]["diff_ids"] == diff_ids
    assert len([h for h in config["history"] if not h.get("empty_layer")]) == len(diff_ids)


def test_docker_manifest_json_matches_the_oci_manifest(image):
    docker = image.json("manifest.json")
    assert isinstance(docker, list) and len(docker) == 1
    entry = docker[0]
    manifest = image.manifest
    blob = lambda d: "blobs/sha256/" + d["digest"].split(":")[1]
    assert entry["Config"] == blob(manifest["config"])
    assert entry["Layers"] == [blob(layer) for layer in manifest["layers"]]
    assert entry["RepoTags"] == image.names


def test_config_runs_akvs_as_a_non_root_user(image):
    config = image.config
    assert config["os"] == "linux"
    assert config["architecture"] == {"x86_64": "amd64", "aarch64": "arm64"}.get(
        subprocess.run(["uname", "-m"], capture_output=True, text=True).stdout.strip())
    run = config["config"]
    assert run["Entrypoint"] == ["/akvs"]
    assert "Cmd" not in run, "the role is the first argument; no default command"
    user = run["User"]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0, user
    # The numeric user exists in the image's /etc/passwd and /etc/group.
    files = layer_files(image)
    passwd = [l.split(":") for l in files["etc/passwd"].decode().splitlines()]
    group = [l.split(":") for l in files["etc/group"].decode().splitlines()]
    assert any(p[2] == uid and p[3] == gid for p in passwd), passwd
    assert any(g[2] == gid for g in group), group


def test_labels_and_created_time(image, version):
    labels = image.config["config"]["Labels"]
    assert {k.removeprefix("org.opencontainers.image.") for k in labels} == LABELS
    assert all(isinstance(v, str) and v for v in labels.values())
    assert labels["org.opencontainers.image.title"] == "akvs"
    assert labels["org.opencontainers.image.version"] == version
    revision = labels["org.opencontainers.image.revision"]
    created = labels["org.opencontainers.image.created"]
    assert image.config["created"] == created
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)
    git = subprocess.run(["git", "-C", str(ROOT), "show", "-s", "--format=%ct", revision],
                         capture_output=True, text=True)
    if git.returncode != 0:
        pytest.skip(f"not a git checkout with {revision}: {git.stderr.strip()}")
    assert re.fullmatch(r"[0-9a-f]{40}", revision)
    commit_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(git.stdout.strip())))
    assert created == commit_time, "created is the commit time, not the build time"


def layer_files(image):
    """Small files of the (single) layer by path; large ones are checked by hash elsewhere."""
    out = {}
    for layer in image.manifest["layers"]:
        with tarfile.open(image.blob_path(layer["digest"]), "r|gz") as tar:
            for member in tar:
                if member.isfile() and member.size < 1 << 20:
                    out[member.name] = tar.extractfile(member).read()
    return out


def test_layer_entries_are_normalised(image):
    created = image.config["created"]
    epoch = calendar.timegm(time.strptime(created, "%Y-%m-%dT%H:%M:%SZ"))
    for layer in image.manifest["layers"]:
        members = image.layer_members(layer)
        names = [m.name for m in members]
        assert names == sorted(names, key=lambda n: n.split("/")), "entries sorted, parents first"
        assert len(names) == len(set(names))
        for m in members:
            assert not m.name.startswith(("/", "./")) and ".." not in m.name.split("/"), m.name
            assert m.isfile() or m.isdir(), f"{m.name}: only files and directories"
            assert m.mtime == epoch, f"{m.name}: mtime {m.mtime}, not the commit time {epoch}"
            assert m.uname == "" and m.gname == "", f"{m.name}: numeric owners only"
            expected_owner = 65532 if m.name == "home/nonroot" else 0
            assert (m.uid, m.gid) == (expected_owner, expected_owner), m.name


def test_root_file_system_is_minimal(image):
    members = {m.name: m for layer in image.manifest["layers"] for m in image.layer_members(layer)}
    akvs = members["akvs"]
    assert akvs.mode == 0o755 and akvs.size == image.binary.stat().st_size
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    for mount_point in ("dev", "proc", "sys"):
        assert members[mount_point].isdir()
    top = {name.split("/")[0] for name in members}
    assert top <= {"akvs", "etc", "lib", "lib64", "usr", "opt", "tmp", "root", "home",
                   "dev", "proc", "sys"}, top
    files = {n for n, m in members.items() if m.isfile()}
    etc = {n for n in files if n.startswith("etc/")}
    assert etc == {"etc/passwd", "etc/group", "etc/nsswitch.conf", "etc/hosts",
                   "etc/ssl/certs/ca-certificates.crt"}
    docs = {n for n in files if n.startswith("usr/share/doc/")}
    assert all(re.fullmatch(r"usr/share/doc/[^/]+/copyright", n) for n in docs), docs
    libraries = files - etc - docs - {"akvs"}
    assert libraries, "a dynamically linked binary needs at least libc and the loader"
    assert all(re.search(r"\.so(\.[0-9]+)*$", n) for n in libraries), libraries
    # Exactly what ldd lists for the binary: no library more, none less.
    ldd = subprocess.run(["ldd", str(image.binary)], capture_output=True, text=True,
                         env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}).stdout
    listed = set()
    for line in ldd.splitlines():
        m = re.search(r"(?:=> )?(/\S+) \(0x", line)
        if m:
            listed.add(m.group(1).lstrip("/"))
    assert libraries == listed


def test_binary_in_the_image_is_the_one_given(image):
    layer = image.manifest["layers"][0]
    with tarfile.open(image.blob_path(layer["digest"]), "r|gz") as tar:
        for member in tar:
            if member.name == "akvs":
                digest = hashlib.sha256()
                f = tar.extractfile(member)
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
                break
    assert "sha256:" + digest.hexdigest() == sha256_file(image.binary)


def test_ca_bundle_and_passwd(image):
    files = layer_files(image)
    bundle = files["etc/ssl/certs/ca-certificates.crt"].decode()
    assert bundle.count("-----BEGIN CERTIFICATE-----") >= 100
    passwd = files["etc/passwd"].decode().splitlines()
    assert passwd[0].startswith("root:x:0:0:") and any(l.startswith("nonroot:x:65532:65532:") for l in passwd)
    assert all(l.endswith(":/sbin/nologin") for l in passwd), "no login shell in an image without one"
    assert "hosts: files dns" in files["etc/nsswitch.conf"].decode()
    assert "localhost" in files["etc/hosts"].decode()


def test_script_prints_path_digest_and_sizes(image):
    out = image.output
    digest = image.index["manifests"][0]["digest"]
    assert str(image.archive) in out
    assert digest in out
    layer = image.manifest["layers"][0]
    assert f"{layer['size']} bytes compressed" in out
    with gzip.open(image.blob_path(layer["digest"])) as f:
        uncompressed = sum(len(chunk) for chunk in iter(lambda: f.read(1 << 20), b""))
    assert f"{uncompressed} bytes uncompressed" in out
    assert TEST_TAG in out and f"akvs:{image.version}" in out
