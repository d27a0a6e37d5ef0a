"""Scripts/build-image.sh itself: reproducible output, tags, SOURCE_DATE_EPOCH, clear errors."""

import json
import os
import re
import subprocess
import tarfile
import time

import pytest

from conftest import ROOT, SCRIPT, TEST_TAG, TIMINGS, run_script

USAGE = "Usage: Scripts/build-image.sh [--binary PATH] [--tag NAME:TAG] [--output FILE]"


def read_json(archive, name):
    with tarfile.open(archive) as tar:
        return json.load(tar.extractfile(name))


def test_same_binary_and_commit_give_the_same_archive(image, tmp_path):
    again = tmp_path / "again.tar"
    started = time.monotonic()
    result = run_script("--binary", image.binary, "--tag", TEST_TAG, "--output", again)
    TIMINGS["build-image.sh (second build)"] = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    first = image.config["config"]["Labels"]["org.opencontainers.image.revision"]
    second = re.search(r'"org\.opencontainers\.image\.revision":"([^"]*)"', config_text(again)).group(1)
    if first != second:
        pytest.skip(f"a commit landed between the two builds ({first[:10]} -> {second[:10]})")
    assert read_json(again, "index.json") == image.index
    assert again.read_bytes() == image.archive.read_bytes(), "archive differs byte for byte"


def config_text(archive):
    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        manifest = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
        return tar.extractfile("blobs/sha256/" + manifest["config"]["digest"][7:]).read().decode()


def build_fake(fake_akvs, tmp_path, *args, env=None):
    output = tmp_path / "fake.tar"
    result = run_script("--binary", fake_akvs, "--output", output, *args, env=env)
    assert result.returncode == 0, result.stderr
    return output, result


def names(archive):
    return [e["annotations"]["io.containerd.image.name"] for e in read_json(archive, "index.json")["manifests"]]


def test_tags_are_normalised_and_deduplicated(fake_akvs, tmp_path):
    archive, result = build_fake(fake_akvs, tmp_path, "--tag", "akvs:9.8.7-test",
                                 "--tag=registry.example:5000/team/akvs:dev",
                                 "--tag", "docker.io/library/akvs:latest", "--tag", "ghcr.io/o/akvs:1")
    assert names(archive) == ["docker.io/library/akvs:9.8.7-test",
                              "registry.example:5000/team/akvs:dev",
                              "docker.io/library/akvs:latest", "ghcr.io/o/akvs:1"]
    assert read_json(archive, "manifest.json")[0]["RepoTags"] == [
        "akvs:9.8.7-test", "registry.example:5000/team/akvs:dev", "akvs:latest", "ghcr.io/o/akvs:1"]
    refs = [e["annotations"]["org.opencontainers.image.ref.name"]
            for e in read_json(archive, "index.json")["manifests"]]
    assert refs == ["9.8.7-test", "dev", "latest", "1"]


def test_source_date_epoch_sets_every_time(fake_akvs, tmp_path):
    archive, _ = build_fake(fake_akvs, tmp_path, env={"SOURCE_DATE_EPOCH": "1700000000"})
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile(read_json(archive, "index.json")["manifests"][0]["digest"].replace("sha256:", "blobs/sha256/")))
        config = json.load(tar.extractfile(manifest["config"]["digest"].replace("sha256:", "blobs/sha256/")))
        layer = tar.extractfile(manifest["layers"][0]["digest"].replace("sha256:", "blobs/sha256/"))
        with tarfile.open(fileobj=layer, mode="r|gz") as inner:
            mtimes = {m.mtime for m in inner}
        outer = {m.mtime for m in tar.getmembers()}
    assert config["created"] == "2023-11-14T22:13:20Z"
    assert config["config"]["Labels"]["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z"
    assert mtimes == {1700000000} and outer == {1700000000}


def test_default_output_and_relative_paths(fake_akvs, tmp_path):
    relative_binary = os.path.relpath(fake_akvs, tmp_path)
    result = run_script("--binary", relative_binary, "--output", "out/image.tar", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "image.tar").is_file()
    assert str(tmp_path / "out" / "image.tar") in result.stdout


def test_help_is_not_an_error():
    result = run_script("--help")
    assert result.returncode == 0 and USAGE in result.stdout and result.stderr == ""


@pytest.mark.parametrize("args, message", [
    (["--bogus"], "unknown argument '--bogus'"),
    (["build"], "unknown argument 'build'"),
    (["--tag"], "--tag needs a value"),
    (["--output", ""], "--output needs a non-empty value"),
    (["--tag", "akvs"], "'akvs': no tag; give NAME:TAG"),
    (["--tag", "Akvs:dev"], "name component 'Akvs' is not valid"),
    (["--tag", "akvs:bad tag"], "tag 'bad tag' is not valid"),
    (["--tag", "akvs:-dev"], "tag '-dev' is not valid"),
    (["--tag", "akvs@sha256:" + "0" * 64], "give NAME:TAG, not a digest"),
    (["--tag", "bad_host.example:port/akvs:1"], "registry 'bad_host.example:port' is not a valid host[:port]"),
])
def test_usage_errors_exit_2_with_the_reason_and_the_usage(args, message, fake_akvs):
    # --binary is valid, so the usage error is what stops the script, before any build.
    result = run_script("--binary", fake_akvs, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Usage: Scripts/build-image.sh" in result.stderr
    assert result.stdout == ""


def test_missing_non_executable_and_wrong_binaries_fail_clearly(tmp_path):
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\necho 1.0.0\n")
    script.chmod(0o755)
    plain = tmp_path / "plain"
    plain.write_text("x")
    cases = [
        (tmp_path / "nope", "does not exist"),
        (plain, "is not executable"),
        (tmp_path, "is not a regular file"),
        (script, "is not an ELF executable"),
    ]
    for binary, message in cases:
        result = run_script("--binary", binary, "--output", tmp_path / "x.tar")
        assert result.returncode == 1, (binary, result.stderr)
        assert message in result.stderr and "Usage:" not in result.stderr, result.stderr
        assert not (tmp_path / "x.tar").exists()


def test_missing_library_is_named(tmp_path):
    """ldd's `not found` stops the build with the library's name (not a loader crash)."""
    cc = subprocess.run(["sh", "-c", "command -v cc || command -v gcc"], capture_output=True, text=True).stdout.strip()
    if not cc:
        pytest.skip("no C compiler")
    (tmp_path / "lib.c").write_text("int akvs_missing(void) { return 1; }\n")
    (tmp_path / "main.c").write_text("int akvs_missing(void); int main(void) { return akvs_missing(); }\n")
    subprocess.run([cc, "-shared", "-fPIC", "-o", tmp_path / "libakvsmissing.so", tmp_path / "lib.c"], check=True)
    subprocess.run([cc, "-o", tmp_path / "prog", tmp_path / "main.c", f"-L{tmp_path}", "-lakvsmissing"], check=True)
    (tmp_path / "libakvsmissing.so").unlink()
    result = run_script("--binary", tmp_path / "prog", "--output", tmp_path / "x.tar")
    assert result.returncode == 1
    assert "libakvsmissing.so" in result.stderr and "not found" in result.stderr, result.stderr
    assert not (tmp_path / "x.tar").exists()


def test_a_failed_build_leaves_no_partial_archive(fake_akvs, tmp_path):
    before = set(tmp_path.iterdir())
    result = run_script("--binary", tmp_path / "absent", "--output", tmp_path / "x.tar")
    assert result.returncode == 1
    assert set(tmp_path.iterdir()) == before


def test_release_path_builds_strips_a_copy_and_packs_it(fake_akvs, tmp_path):
    """Without --binary: `swift build -c release --static-swift-stdlib` (linked by lld with packed
    relative relocations) `--product akvs`, then a
    stripped copy goes into the image (the release build itself keeps its symbols). A stand-in
    `swift` copies the small test executable, so this runs in a second; the script runs from a
    copy of the repository layout, so nothing in this checkout's .build changes."""
    import hashlib
    import shutil
    import stat
    root = tmp_path / "repo"
    (root / "Scripts").mkdir(parents=True)
    shutil.copy(SCRIPT, root / "Scripts" / "build-image.sh")
    bin_dir = root / ".build" / "x86_64-unknown-linux-gnu" / "release"
    stub = tmp_path / "stub"
    stub.mkdir()
    log = tmp_path / "swift.log"
    (stub / "swift").write_text(f"""#!/bin/sh
echo "$*" >> '{log}'
case " $* " in *" --show-bin-path "*) echo '{bin_dir}'; exit 0 ;; esac
mkdir -p '{bin_dir}' && cp '{fake_akvs}' '{bin_dir}/akvs'
""")
    (stub / "swift").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env["PATH"] = f"{stub}:{env.get('PATH', '/usr/bin:/bin')}"
    result = subprocess.run(["bash", str(root / "Scripts" / "build-image.sh")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = log.read_text().splitlines()
    # The same flags as the Containerfile's build stage, so its second build is a no-op.
    flags = "-c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs"
    assert calls[0] == f"build {flags} --product akvs"
    assert calls[1] == f"build {flags} --show-bin-path"
    containerfile = (SCRIPT.parent.parent / "Containerfile").read_text()
    assert f"swift build {flags} --product akvs" in containerfile
    archive = root / ".build" / "akvs-image.tar"
    assert archive.is_file() and str(archive) in result.stdout
    stripped = root / ".build" / "akvs-image-work" / "akvs"
    built = bin_dir / "akvs"
    assert built.read_bytes() == fake_akvs.read_bytes(), "the release build keeps its symbols"
    assert stripped.stat().st_size < built.stat().st_size, "the image's copy is stripped"
    assert stripped.stat().st_mode & stat.S_IXUSR
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("blobs/sha256/" + read_json(archive, "index.json")["manifests"][0]["digest"][7:]))
        layer = tar.extractfile("blobs/sha256/" + manifest["layers"][0]["digest"][7:])
        with tarfile.open(fileobj=layer, mode="r|gz") as inner:
            for member in inner:
                if member.name == "akvs":
                    packed = inner.extractfile(member).read()
                    break
    assert hashlib.sha256(packed).digest() == hashlib.sha256(stripped.read_bytes()).digest()
    assert "9.8.7-test" in result.stdout
