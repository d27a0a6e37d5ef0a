#!/usr/bin/env bash
# Fuzzes akvs's parsers with libFuzzer: builds every target of Fuzz/ (Fuzz/build.py: the modules under
# test instrumented with -sanitize=fuzzer,address on top of the SwiftPM debug build) and runs each for
# N seconds (default 60), starting from its committed seed corpus Fuzz/<target>/corpus. Fails when any
# target crashes, traps, hangs, leaks or runs out of memory; the input that did it is kept in
# .build-fuzz/artifacts/<target>/ and the full log in .build-fuzz/logs/<target>.log. Exit 2 on usage errors.
#
# usage: Scripts/fuzz.sh [--seconds N] [TARGET ...]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="${2:-}"; shift 2 || { echo "--seconds needs a value" >&2; exit 2; } ;;
        --seconds=*) seconds="${1#*=}"; shift ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "unknown option '$1'; usage: Scripts/fuzz.sh [--seconds N] [TARGET ...]" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "--seconds must be a whole number of seconds (1 or more), not '$seconds'" >&2
    exit 2
fi

# AKVS_FUZZ_OUT: another output folder, so a long run and the test.sh smoke can run side by side.
out="${AKVS_FUZZ_OUT:-.build-fuzz}"
mkdir -p "$out"
# The same build as Scripts/test.sh, so running both never rebuilds anything twice.
swift build --build-tests >"$out/swift-build.log" 2>&1 || { cat "$out/swift-build.log" >&2; exit 1; }
python3 Fuzz/build.py --out "$out" "${targets[@]}" >"$out/binaries"
mapfile -t binaries <"$out/binaries"

failed=0
printf '%-16s %8s %10s %7s %7s %7s  %s\n' target seconds execs cov ft corpus result
for binary in "${binaries[@]}"; do
    target="$(basename "$binary")"
    corpus="$out/corpus/$target" artifacts="$out/artifacts/$target/" log="$out/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$out/logs" "$out/dict"
    # libFuzzer takes one dictionary: the shared edge values plus the target's own tokens.
    cat Fuzz/common.dict "Fuzz/$target/dict" 2>/dev/null >"$out/dict/$target" || true
    start=$(date +%s)
    # New inputs go to the work corpus; the committed seeds are only read. ASan's leak check runs after each input.
    set +e
    # Swift's own crash backtracer would race libFuzzer's handlers (and can outlive the run); libFuzzer reports.
    SWIFT_BACKTRACE=enable=no "$binary" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 -dict="$out/dict/$target" \
        -artifact_prefix="$artifacts" "$corpus" "Fuzz/$target/corpus" >"$log" 2>&1
    rc=$?
    set -e
    elapsed=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    units=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    result=ok
    if [ "$rc" -ne 0 ]; then
        result="FAILED (exit $rc): $(grep -m1 -E '^==[0-9]+==ERROR|^SUMMARY|Fatal error|deadly signal|timeout|out-of-memory|leak' "$log" || echo "see $log")"
        failed=1
    fi
    printf '%-16s %8s %10s %7s %7s %7s  %s\n' "$target" "$elapsed" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${units:-?}" "$result"
done
if [ "$failed" -ne 0 ]; then
    echo "fuzzing found a failure: the crashing inputs are in $out/artifacts/, the logs in $out/logs/" >&2
    exit 1
fi
