#!/usr/bin/env python3
"""Builds the libFuzzer targets of Fuzz/ on top of the SwiftPM debug build.

The modules under test are compiled again from SwiftPM's own build plan (.build/debug.yaml, the exact
swiftc arguments of `swift build`) with -sanitize=fuzzer,address, so only they carry coverage and ASan
instrumentation; each harness links them with the debug objects of everything else. This keeps the
fuzz build to a few modules instead of a second build of every dependency. Outputs go to --out.

usage: Fuzz/build.py --out DIR [TARGET ...]
"""
import argparse
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# target -> (modules instrumented for coverage and ASan, the SwiftPM executable whose objects it links with)
TARGETS = {
    "pkcs12": (["ObjectFormats"], "akvs"),
    "spc-parameters": (["AzureProvider"], "akvs"),
    "vault-responses": (["KeyVault", "AzureIdentity"], "akvs"),
    "jwt": (["Emulator", "AzureIdentity"], "akvs"),
    "kube-watch": (["Kubernetes"], "akvs"),
    "kubeconfig": (["Kubernetes"], "akvs"),
    "patch": (["KubernetesTestServer", "StructuredJSON"], "akvs-kube-test-server"),
    "atomic-writer": (["AtomicWriter"], "akvs"),
}
SANITIZE = "-sanitize=fuzzer,address"
# Flags of the incremental, indexed SwiftPM build that a one-shot whole-module compile does not take.
DROP_ALONE = {"-emit-dependencies", "-emit-module", "-incremental", "-enable-batch-mode", "-serialize-diagnostics",
              "-parseable-output", "-emit-objc-header", "-c"}
DROP_WITH_VALUE = {"-emit-module-path", "-output-file-map", "-index-store-path", "-emit-objc-header-path", "-module-cache-path", "-o"}


def plan_commands():
    """The llbuild commands of .build/debug.yaml: name -> {"inputs": [...], "args": [...]}.

    The file is YAML whose values are JSON arrays on one line, so a line scan is enough (no PyYAML needed)."""
    path = os.path.join(ROOT, ".build", "debug.yaml")
    commands, current = {}, None
    with open(path) as f:
        for line in f:
            match = re.match(r'^  "(C\.[^"]+)":$', line)
            if match:
                current = commands.setdefault(match.group(1), {})
                continue
            if current is None:
                continue
            match = re.match(r"^    (inputs|args): (\[.*\])$", line)
            if match:
                current[match.group(1)] = json.loads(match.group(2))
    return commands


def find(commands, name, kind):
    """The plan's command that builds target `name` ("module") or links product `name` ("exe")."""
    triple = next(c["args"][c["args"].index("-target") + 1] for c in commands.values() if "-target" in c.get("args", []))
    command = commands.get(f"C.{name}-{triple}-debug.{kind}")
    if command is None:
        sys.exit(f"fuzz build: .build/debug.yaml has no {kind} {name}; run `swift build --build-tests` first")
    return command


def run(args, cwd=None):
    result = subprocess.run(args, cwd=cwd)
    if result.returncode != 0:
        sys.exit(f"fuzz build: command failed ({result.returncode}): {' '.join(args[:8])} …")


def compile_flags(args):
    """The module's compile arguments minus outputs and incremental-build flags."""
    kept, skip = [], False
    for arg in args[1:]:
        if skip:
            skip = False
            continue
        if arg in DROP_WITH_VALUE:
            skip = True
            continue
        if arg in DROP_ALONE or arg.startswith("-j"):
            continue
        kept.append(arg)
    return kept


def module_name(args):
    return args[args.index("-module-name") + 1]


def instrumented_module(commands, name, out, cache):
    """Compiles one module from the SwiftPM plan with coverage and ASan; returns its object file."""
    command = find(commands, name, "module")
    obj = os.path.join(out, "obj", f"{name}.o")
    # Its sources and the interfaces of the modules it imports: a changed dependency recompiles it too.
    newest = max(os.path.getmtime(i) for i in command["inputs"] if os.path.exists(i))
    if os.path.exists(obj) and os.path.getmtime(obj) >= newest:
        return obj, command
    os.makedirs(os.path.dirname(obj), exist_ok=True)
    print(f"== fuzz build: instrumenting {name}", file=sys.stderr, flush=True)
    run([command["args"][0], *compile_flags(command["args"]), "-wmo", SANITIZE, "-module-cache-path", cache, "-c", "-o", obj])
    return obj, command


def build_target(commands, target, out, cache):
    modules, product = TARGETS[target]
    objects, module_commands = [], []
    for name in modules:
        obj, command = instrumented_module(commands, name, out, cache)
        objects.append(obj)
        module_commands.append(command)

    # The harness: its own module, compiled with the include and module-map flags of the modules it tests.
    harness_dir = os.path.join(ROOT, "Fuzz", target)
    sources = sorted(os.path.join(harness_dir, f) for f in os.listdir(harness_dir) if f.endswith(".swift"))
    harness_obj = os.path.join(out, "obj", f"harness-{target}.o")
    flags = compile_flags(module_commands[0]["args"])
    # Drop the tested module's own name and sources; keep search paths, defines and -Xcc module maps.
    cleaned, skip = [], False
    for arg in flags:
        if skip:
            skip = False
            continue
        if arg == "-module-name":
            skip = True
            continue
        if arg.startswith("@") or arg.endswith(".swift") or arg == "-emit-objc-header":
            continue
        cleaned.append(arg)
    for command in module_commands[1:]:
        args = command["args"]
        for i, arg in enumerate(args):
            if arg == "-Xcc" and i + 1 < len(args) and args[i + 1].startswith("-fmodule-map-file=") and args[i + 1] not in cleaned:
                cleaned += ["-Xcc", args[i + 1]]
    module = "Fuzz_" + target.replace("-", "_")
    newest = max(os.path.getmtime(s) for s in sources + objects)
    if not (os.path.exists(harness_obj) and os.path.getmtime(harness_obj) >= newest):
        print(f"== fuzz build: harness {target}", file=sys.stderr, flush=True)
        run([module_commands[0]["args"][0], "-module-name", module, *cleaned, "-wmo", SANITIZE, "-warnings-as-errors",
             "-module-cache-path", cache, "-c", *sources, "-o", harness_obj])

    # Link: the product's objects, except its main module and the modules replaced by instrumented copies.
    link = find(commands, product, "exe")
    main_dir = f"/{product.replace('-', '_')}.build/"
    replaced = tuple(f"/{name}.build/" for name in modules)
    debug_objects = [o for o in link["inputs"] if o.endswith(".o") and main_dir not in o and not any(r in o for r in replaced)]
    binary = os.path.join(out, "bin", target)
    newest = max(os.path.getmtime(o) for o in debug_objects + objects + [harness_obj])
    if os.path.exists(binary) and os.path.getmtime(binary) >= newest:
        return binary
    os.makedirs(os.path.dirname(binary), exist_ok=True)
    print(f"== fuzz build: linking {target}", file=sys.stderr, flush=True)
    file_list = os.path.join(out, "obj", f"{target}.objects")
    with open(file_list, "w") as f:
        # One quoted path a line: some dependency objects have spaces in their names.
        f.write("".join('"' + o.replace("\\", "\\\\").replace('"', '\\"') + '"\n' for o in debug_objects + objects + [harness_obj]))
    args = link["args"]
    search = [a for i, a in enumerate(args) if a == "-L" or (i > 0 and args[i - 1] == "-L")]
    libraries = [a for a in args if a.startswith("-l")]
    run([args[0], SANITIZE, "-emit-executable", "-use-ld=lld", *search, *libraries, "-g", "-target",
         args[args.index("-target") + 1], f"@{file_list}", "-o", binary])
    return binary


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("targets", nargs="*")
    options = parser.parse_args()
    unknown = [t for t in options.targets if t not in TARGETS]
    if unknown:
        sys.exit(f"fuzz build: unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    out = os.path.abspath(options.out)
    cache = os.path.join(out, "ModuleCache")
    commands = plan_commands()
    for target in options.targets or list(TARGETS):
        print(build_target(commands, target, out, cache))


if __name__ == "__main__":
    main()
