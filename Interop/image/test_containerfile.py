"""The Containerfile builds the same image as Scripts/build-image.sh (no engine here to run it, so
these checks read it): release build with the static Swift stdlib, the script's layer as the whole
runtime root, the same user, entrypoint and labels, and every folder Package.swift needs."""

import re

from conftest import ROOT

# The release build, linked by lld with packed relative relocations (DT_RELR), as Scripts/build-image.sh runs it.
RELEASE_BUILD = "swift build -c release --static-swift-stdlib -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs"

CONTAINERFILE = (ROOT / "Containerfile").read_text()


def instructions():
    """(instruction, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(l for l in CONTAINERFILE.splitlines() if not l.lstrip().startswith("#")))
    return [tuple(line.strip().split(None, 1)) for line in text.splitlines() if line.strip()]


def stages():
    out, current = [], None
    for instruction in instructions():
        if instruction[0].upper() == "FROM":
            current = [instruction]
            out.append(current)
        elif current is not None:
            current.append(instruction)
    return out


def test_build_stage_builds_the_release_binary_with_the_static_stdlib():
    build, runtime = stages()
    assert re.search(r"\$\{SWIFT_IMAGE\} AS build", build[0][1])
    assert "ARG SWIFT_IMAGE=swift:6.3" in CONTAINERFILE
    runs = " ".join(args for op, args in build if op == "RUN")
    assert RELEASE_BUILD + " --product akvs" in runs
    assert "Scripts/build-image.sh --output" in runs, "the runtime root is the script's layer"


def test_runtime_stage_is_scratch_with_the_layer_user_and_entrypoint(image):
    _, runtime = stages()
    assert runtime[0] == ("FROM", "scratch")
    ops = dict((op, args) for op, args in runtime[1:] if op not in ("ARG", "LABEL"))
    assert ops["COPY"] == "--from=build /rootfs/ /"
    config = image.config["config"]
    assert ops["USER"] == config["User"]
    assert ops["ENTRYPOINT"] == '["/akvs"]' and config["Entrypoint"] == ["/akvs"]
    assert ops["ENV"] in config["Env"]
    assert [op for op, _ in runtime].count("RUN") == 0, "nothing can run in scratch"


def test_labels_match_the_script(image, version):
    _, runtime = stages()
    text = " ".join(args for op, args in runtime if op == "LABEL")
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[a-z]+)="([^"]*)"', text))
    config_labels = image.config["config"]["Labels"]
    assert labels.keys() == config_labels.keys()
    for key in ("title", "description", "source", "licenses"):
        key = f"org.opencontainers.image.{key}"
        assert labels[key] == config_labels[key], key
    assert f"ARG VERSION={version}" in CONTAINERFILE, "the default VERSION is what akvs --version prints"


def test_every_folder_package_swift_uses_is_copied():
    manifest = (ROOT / "Package.swift").read_text()
    needed = {"Sources"} | {p.split("/")[0] for p in re.findall(r'path:\s*"([^"]+)"', manifest)}
    if ".testTarget(" in manifest:
        needed.add("Tests")
    copied = {args.split()[0] for op, args in stages()[0] if op == "COPY"}
    assert needed <= copied, f"Containerfile does not COPY {sorted(needed - copied)}"
    assert "Scripts" in copied and "Package.swift" in copied
