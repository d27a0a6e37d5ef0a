"""Fixtures for the image checks: the archive Scripts/build-image.sh writes from AKVS_BIN, its OCI
layout read back, and its root file system unpacked layer by layer.

AKVS_BIN (default .build/debug/akvs) is the binary the image is built from; CI uses the debug
binary, the release image is checked the same way with AKVS_BIN=.build/akvs-image-work/akvs.
Root-only checks (chroot, runc, containerd) skip with a reason when not root; checks that need a
tool from Scripts/install-image-tools.sh skip when that tool is missing.
"""

import gzip
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "Scripts" / "build-image.sh"
TEST_TAG = "akvs:image-test"
HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
TIMINGS = {}


def akvs_bin() -> Path:
    value = os.environ.get("AKVS_BIN", ".build/debug/akvs")
    path = Path(value)
    if not path.is_absolute():
        path = (Path.cwd() / path) if (Path.cwd() / path).exists() else (ROOT / path)
    return path


def is_root() -> bool:
    return os.geteuid() == 0


def need_root(what: str):
    if not is_root():
        pytest.skip(f"{what} needs root (CI runs as root)")


def need_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (bash Scripts/install-image-tools.sh)")
    return path


def run_script(*args, env=None, cwd=ROOT, timeout=600):
    environment = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    environment.update(env or {})
    return subprocess.run(["bash", str(SCRIPT), *map(str, args)], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=timeout)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def elf_interpreter(path: Path):
    with open(path, "rb") as f:
        data = f.read(64)
        phoff, = struct.unpack_from("<Q", data, 32)
        phentsize, phnum = struct.unpack_from("<HH", data, 54)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, _, p_offset, _, _, p_filesz = struct.unpack("<IIQQQQ", f.read(40))
            if p_type == 3:
                f.seek(p_offset)
                return f.read(p_filesz).rstrip(b"\0").decode()
    return None


@dataclass
class Image:
    archive: Path
    layout: Path            # the archive unpacked: oci-layout, index.json, manifest.json, blobs/
    output: str             # what the script printed
    version: str            # what `akvs --version` printed
    binary: Path
    names: list = field(default_factory=list)

    def read(self, name: str) -> bytes:
        return (self.layout / name).read_bytes()

    def json(self, name: str):
        return json.loads(self.read(name))

    def blob_path(self, digest: str) -> Path:
        algorithm, hex_digest = digest.split(":")
        return self.layout / "blobs" / algorithm / hex_digest

    def blob_json(self, digest: str):
        return json.loads(self.blob_path(digest).read_bytes())

    @property
    def index(self):
        return self.json("index.json")

    @property
    def manifest(self):
        return self.blob_json(self.index["manifests"][0]["digest"])

    @property
    def config(self):
        return self.blob_json(self.manifest["config"]["digest"])

    def layer_members(self, descriptor):
        with tarfile.open(self.blob_path(descriptor["digest"]), "r:gz") as tar:
            return tar.getmembers()


@pytest.fixture(scope="session")
def binary() -> Path:
    path = akvs_bin()
    if not path.is_file():
        pytest.fail(f"AKVS_BIN {path} does not exist: run `swift build` first (or set AKVS_BIN)")
    return path


@pytest.fixture(scope="session")
def version(binary) -> str:
    return subprocess.run([str(binary), "--version"], capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.fixture(scope="session")
def image(binary, version, tmp_path_factory) -> Image:
    work = tmp_path_factory.mktemp("image")
    archive = work / "akvs-image.tar"
    started = time.monotonic()
    result = run_script("--binary", binary, "--tag", TEST_TAG, "--output", archive)
    TIMINGS["build-image.sh (first build)"] = time.monotonic() - started
    assert result.returncode == 0, f"build-image.sh failed:\n{result.stdout}\n{result.stderr}"
    layout = work / "layout"
    layout.mkdir()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            assert not member.name.startswith("/") and ".." not in member.name.split("/")
            assert member.isfile() or member.isdir(), f"{member.name}: unexpected entry type"
        tar.extractall(layout)
    return Image(archive=archive, layout=layout, output=result.stdout, version=version,
                 binary=binary, names=[f"akvs:{version}", TEST_TAG])


def apply_layer(tar: tarfile.TarFile, root: Path):
    """Apply one layer as a container runtime does, whiteouts included."""
    for member in tar:
        name = member.name[2:] if member.name.startswith("./") else member.name
        parts = [p for p in name.split("/") if p]
        assert not member.name.startswith("/") and ".." not in parts, f"unsafe path {member.name}"
        if not parts:
            continue
        base = parts[-1]
        parent = root.joinpath(*parts[:-1])
        if base == ".wh..wh..opq":
            for child in parent.iterdir():
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            continue
        if base.startswith(".wh."):
            target = parent / base[len(".wh."):]
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            continue
        target = root.joinpath(*parts)
        if target.exists() and not (member.isdir() and target.is_dir()):
            shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
        tar.extract(member, root, set_attrs=True, numeric_owner=True,
                    **({"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}))


@pytest.fixture(scope="session")
def rootfs(image, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rootfs") / "root"
    root.mkdir()
    started = time.monotonic()
    for layer in image.manifest["layers"]:
        with tarfile.open(image.blob_path(layer["digest"]), "r|gz") as tar:
            apply_layer(tar, root)
    TIMINGS["unpack the layers"] = time.monotonic() - started
    return root


def run_in_image(root: Path, *args, user="65532:65532", timeout=120):
    """Run a command of the image under chroot: a private mount and pid namespace, a fresh /proc
    (container runtimes always mount one), an empty environment, no host files."""
    need_root("chroot")
    chroot = shutil.which("chroot")
    script = 'mount -t proc proc "$0/proc" && exec env -i "$CHROOT" --userspec="$USERSPEC" "$0" "$@"'
    return subprocess.run(["unshare", "--mount", "--pid", "--fork", "--propagation", "private",
                           "sh", "-c", script, str(root), *args],
                          env={"PATH": HOST_PATH, "CHROOT": chroot, "USERSPEC": user},
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def fake_akvs(tmp_path_factory) -> Path:
    """A small dynamically linked executable that answers --version like akvs: builds images in
    well under a second, for the script's own behaviour (tags, SOURCE_DATE_EPOCH, errors)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler for the small test executable")
    work = tmp_path_factory.mktemp("fake")
    source = work / "fake.c"
    source.write_text('#include <stdio.h>\n#include <string.h>\n'
                      'int main(int c, char **v) { if (c > 1 && !strcmp(v[1], "--version")) '
                      '{ puts("9.8.7-test"); return 0; } puts("fake akvs"); return 0; }\n')
    path = work / "akvs"
    subprocess.run([cc, "-O1", "-o", str(path), str(source)], check=True)
    return path


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_sep("-", "image timings")
        for what, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{what}: {seconds:.1f} s")
