"""Real loaders accept the archive: ctr (containerd) import and run, podman load, skopeo and umoci.
`docker load` needs a Docker engine, which these machines do not run; it reads the same
manifest.json that podman's docker-archive loader and skopeo read here."""

import json
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import TEST_TAG, need_root, need_tool


def run(*args, timeout=300, **kwargs):
    return subprocess.run(list(map(str, args)), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kwargs)


@pytest.fixture(scope="module")
def containerd(tmp_path_factory):
    """A throwaway containerd (own root, state and socket; no CRI plugin)."""
    binary = need_tool("containerd")
    need_tool("ctr")
    need_root("containerd")
    work = Path(tempfile.mkdtemp(prefix="akvs-ctrd-", dir="/tmp"))  # socket paths stay short
    socket = work / "containerd.sock"
    (work / "config.toml").write_text(f"""version = 2
root = "{work}/root"
state = "{work}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
""")
    log = open(work / "containerd.log", "w")
    process = subprocess.Popen([binary, "--config", str(work / "config.toml")], stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"containerd did not start: {(work / 'containerd.log').read_text()[-2000:]}")
        time.sleep(0.1)
    yield socket
    # Stop what the checks started (shims are in their own sessions; ask containerd first).
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    shutil.rmtree(work, ignore_errors=True)


def test_ctr_imports_every_name_and_runs_it(containerd, image, version):
    ctr = ["ctr", "--address", containerd, "--namespace", "k8s.io"]
    result = run(*ctr, "images", "import", "--snapshotter", "native", image.archive)
    assert result.returncode == 0, result.stderr
    listing = run(*ctr, "images", "list", "--quiet").stdout.split()
    for name in image.names:
        assert f"docker.io/library/{name}" in listing, listing
    check = run(*ctr, "images", "check")
    assert check.returncode == 0 and "complete" in check.stdout, check.stdout + check.stderr
    # Run it as kubelet's runtime would: the image's own entrypoint and user.
    name = f"docker.io/library/{TEST_TAG}"
    result = run(*ctr, "run", "--rm", "--snapshotter", "native", name, "akvs-image-test", "/akvs", "--version",
                 timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == version
    result = run(*ctr, "run", "--rm", "--snapshotter", "native", name, "akvs-image-test-2", timeout=120)
    assert "USAGE: akvs <subcommand>" in result.stdout, "the entrypoint alone prints the usage"


@pytest.fixture
def short_tmp():
    """podman limits its run root to 50 characters, unix sockets to 107: a short folder in /tmp."""
    path = tempfile.mkdtemp(prefix="akvs-img-", dir="/tmp")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def test_podman_loads_both_tags(image, short_tmp):
    podman = need_tool("podman")
    need_root("podman with its own storage")
    storage = ["--root", short_tmp / "storage", "--runroot", short_tmp / "run", "--storage-driver", "vfs"]
    result = run(podman, *storage, "load", "--input", image.archive)
    assert result.returncode == 0, result.stderr
    for name in image.names:
        assert f"Loaded image: localhost/{name}" in result.stdout, result.stdout
    inspect = run(podman, *storage, "image", "inspect", f"localhost/{TEST_TAG}")
    assert inspect.returncode == 0, inspect.stderr
    config = json.loads(inspect.stdout)[0]["Config"]
    assert config["Entrypoint"] == ["/akvs"] and config["User"] == "65532:65532"
    assert config["Labels"]["org.opencontainers.image.version"] == version_of(image)


def version_of(image):
    return image.config["config"]["Labels"]["org.opencontainers.image.version"]


def test_skopeo_reads_the_oci_layout_and_the_docker_manifest(image):
    skopeo = need_tool("skopeo")
    for name in image.names:
        tag = name.split(":")[1]
        result = run(skopeo, "inspect", f"oci-archive:{image.archive}:{tag}")
        assert result.returncode == 0, result.stderr
        info = json.loads(result.stdout)
        assert info["Digest"] == image.index["manifests"][0]["digest"]
        assert info["Labels"]["org.opencontainers.image.title"] == "akvs"
        # The Docker-style view of the same archive (what `docker load` reads).
        result = run(skopeo, "inspect", "--config", f"docker-archive:{image.archive}:{name}")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["config"]["Entrypoint"] == ["/akvs"]


def test_umoci_unpacks_the_layout(image, tmp_path):
    umoci = need_tool("umoci")
    tag = image.names[0].split(":")[1]
    listing = run(umoci, "list", "--layout", image.layout)
    assert listing.returncode == 0, listing.stderr
    assert set(listing.stdout.split()) == {n.split(":")[1] for n in image.names}
    stat = run(umoci, "stat", "--json", "--image", f"{image.layout}:{tag}")
    assert stat.returncode == 0, stat.stderr
    history = json.loads(stat.stdout)["history"]
    assert len(history) == len(image.manifest["layers"])
