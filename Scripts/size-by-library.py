#!/usr/bin/env python3
"""Where a binary's bytes go, by library: sums `nm --size-sort -S` symbol sizes per Swift module (from the
mangled name), ICU (C++ namespace icu_NN, its u*_ C API, the icudt data blob), BoringSSL, and the rest.
Usage: Scripts/size-by-library.py <unstripped binary> [top]"""
import collections, re, subprocess, sys

def bucket(name):
    if name.startswith("icudt"): return "ICU data (icudt*_dat)"
    if re.match(r"_ZN\d*icu_\d+", name) or re.search(r"_\d\d$", name) and re.match(r"_?(u|ucol|ubrk|ures|ucnv|unorm|uloc|udat|unum|utrans|uset|ustr|utf8|uprv|ucase|uscript|uregex|ucal|ufmt|uplrules|ulist|uidna|usearch|ucurr|utext|uenum|ucptrie|umutablecptrie|uhash|ulocimp|uiter|uchar|ubidi|ushape|usprep|ustrcase|ucasemap|udata|ucln|umtx|uprops|ualoc|ucsdet|ufile|udtitvfmt|ugender|unumsys|uspoof|utmscale|uregion|ureldatefmt|ucfpos|uformattable|ufieldpositer|unumberformatter|unumberrangeformatter|upluralrules|udatpg|udisplaycontext|uldn|utf16|utf|res|ures)_", name):
        return "ICU code"
    if "BoringSSL" in name or name.startswith("CNIOBoringSSL"): return "BoringSSL (swift-nio-ssl)"
    m = re.match(r"_?\$s(\d+)([A-Za-z_][A-Za-z0-9_]*)", name)
    if m:
        n = int(m.group(1))
        return "Swift: " + m.group(2)[:n]
    if name.startswith(("$s", "_$s")): return "Swift: standard library (substitutions)"
    if name.startswith("_ZN") or name.startswith("_ZT") or name.startswith("_ZNK"): return "C++ (other: runtime, Foundation's C++ parts)"
    if name.startswith("swift_") or name.startswith("_swift"): return "Swift runtime"
    return "C (other: libc++, dispatch, CoreFoundation, zlib, …)"

def main():
    binary = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    out = subprocess.run(["nm", "--size-sort", "-S", "--defined-only", binary], capture_output=True, text=True, check=True).stdout
    sizes = collections.Counter()
    kinds = collections.defaultdict(collections.Counter)
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 4: continue
        size, kind, name = int(parts[1], 16), parts[2], parts[3]
        b = bucket(name)
        sizes[b] += size
        kinds[b]["text" if kind in "Tt" else "rodata" if kind in "Rr" else "data"] += size
    total = sum(sizes.values())
    print(f"| library | MiB | text | read-only data | data |\n|---|---:|---:|---:|---:|")
    for b, s in sizes.most_common(top):
        k = kinds[b]
        print(f"| {b} | {s/2**20:.1f} | {k['text']/2**20:.1f} | {k['rodata']/2**20:.1f} | {k['data']/2**20:.1f} |")
    rest = total - sum(s for _, s in sizes.most_common(top))
    print(f"| (all others) | {rest/2**20:.1f} | | | |\n| **symbols in all** | **{total/2**20:.1f}** | | | |")

main()
