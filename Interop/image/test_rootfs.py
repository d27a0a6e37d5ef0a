"""The unpacked root file system runs akvs on its own: chroot (nothing of the host inside: a fresh
/proc, an empty environment) and runc with a read-only root, as a container runtime runs it."""

import json
import os
import shutil
import subprocess
import uuid

import pytest

from conftest import HOST_PATH, ROOT, elf_interpreter, need_root, need_tool, run_in_image

ROLES = ["provider", "csi-driver", "sync-controller", "emulator"]
DEMO_HOSTS = "127.0.0.1\tlocalhost akvs-demo.vault.localhost\n::1\tlocalhost\n"


def test_version_as_root_and_as_nonroot(rootfs, version):
    for user in ("65532:65532", "0:0"):
        result = run_in_image(rootfs, "/akvs", "--version", user=user)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == version


@pytest.mark.parametrize("role", ROLES)
def test_every_role_answers_help(rootfs, role):
    result = run_in_image(rootfs, "/akvs", role, "--help")
    assert result.returncode == 0, result.stderr
    assert f"USAGE: akvs {role}" in result.stdout


def test_loader_in_the_image_finds_every_library(rootfs, image):
    loader = elf_interpreter(image.binary)
    assert loader and (rootfs / loader.lstrip("/")).is_file(), f"loader {loader} not in the image"
    result = run_in_image(rootfs, loader, "--list", "/akvs")
    assert result.returncode == 0, result.stderr
    assert "not found" not in result.stdout, result.stdout
    resolved = [line.split("=>")[1].split("(")[0].strip()
                for line in result.stdout.splitlines() if "=>" in line]
    assert resolved, result.stdout
    for path in resolved:
        assert (rootfs / path.lstrip("/")).is_file(), f"{path} resolved outside the image?"


def test_nothing_points_outside_the_image(rootfs):
    for directory, dirs, files in os.walk(rootfs):
        for name in dirs + files:
            path = os.path.join(directory, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                assert target.startswith(str(rootfs) + os.sep) and not os.readlink(path).startswith("/"), \
                    f"{path} -> {os.readlink(path)}"


def demo_files(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text(DEMO_HOSTS)
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples)
    for path in [examples, *examples.iterdir()]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return hosts, examples


def test_demo_runs_inside_the_image(rootfs, tmp_path):
    """`akvs demo`: the emulator over TLS on loopback, the provider, token and Key Vault calls,
    atomic writes into /tmp, as the non-root user; /etc/hosts and the examples are mounted in, as
    kubelet mounts /etc/hosts and volumes."""
    need_root("chroot")
    hosts, examples = demo_files(tmp_path)
    script = ('mount -t proc proc "$0/proc" && mount --bind "$HOSTS" "$0/etc/hosts" '
              '&& mkdir -p "$0/tmp/examples" && mount --bind "$EXAMPLES" "$0/tmp/examples" '
              '&& exec env -i "$CHROOT" --userspec=65532:65532 "$0" "$@"')
    result = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--propagation", "private", "sh", "-c", script,
         str(rootfs), "/akvs", "demo", "--examples", "/tmp/examples", "--work-dir", "/tmp/akvs-demo"],
        env={"PATH": HOST_PATH, "CHROOT": shutil.which("chroot"), "HOSTS": str(hosts),
             "EXAMPLES": str(examples)},
        capture_output=True, text=True, timeout=120)
    try:
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert "swapped in atomically" in result.stdout
        assert "workload identity          ok" in result.stdout
    finally:
        shutil.rmtree(rootfs / "tmp" / "akvs-demo", ignore_errors=True)
        (rootfs / "tmp" / "examples").rmdir()


def runc_config(rootfs, args, mounts=()):
    return {
        "ociVersion": "1.0.2",
        "process": {"terminal": False, "user": {"uid": 65532, "gid": 65532}, "args": list(args),
                    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                    "cwd": "/", "noNewPrivileges": True,
                    "capabilities": {k: [] for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}},
        "root": {"path": str(rootfs), "readonly": True},
        "hostname": "akvs",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777"]},
            *mounts,
        ],
        "linux": {"namespaces": [{"type": t} for t in ("pid", "mount", "ipc", "uts", "network")],
                  "maskedPaths": ["/proc/kcore", "/proc/keys"], "readonlyPaths": ["/proc/sys"]},
    }


def run_runc(tmp_path, config, timeout=120):
    runc = need_tool("runc")
    need_root("runc")
    bundle = tmp_path / f"bundle-{uuid.uuid4().hex[:8]}"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(config))
    state = tmp_path / "runc-state"
    name = bundle.name
    try:
        return subprocess.run([runc, "--root", str(state), "run", "--bundle", str(bundle), name],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        subprocess.run([runc, "--root", str(state), "delete", "--force", name], capture_output=True)


def test_runc_runs_the_image_read_only_without_capabilities(rootfs, tmp_path, version):
    result = run_runc(tmp_path, runc_config(rootfs, ["/akvs", "--version"]))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == version


def test_runc_runs_the_demo(rootfs, tmp_path):
    hosts, examples = demo_files(tmp_path)
    mounts = [{"destination": "/etc/hosts", "type": "bind", "source": str(hosts), "options": ["bind", "ro"]},
              {"destination": "/tmp/examples", "type": "bind", "source": str(examples), "options": ["bind", "ro"]}]
    config = runc_config(rootfs, ["/akvs", "demo", "--examples", "/tmp/examples", "--work-dir", "/tmp/demo"], mounts)
    result = run_runc(tmp_path, config)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "swapped in atomically" in result.stdout
