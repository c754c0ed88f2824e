#!/usr/bin/env bash
# Bounded run of every fuzz target: builds them (nightly, cargo-fuzz), seeds
# the corpora from the fixtures (seed.sh), then fuzzes each target for
# SECONDS_PER_TARGET seconds (default 60). Exits non-zero if any target
# crashes (panic, overflow, sanitizer report, leak, timeout, out of memory);
# the input is in tests/fuzz/artifacts/<target>/ and the log in
# tests/fuzz/logs/<target>.log.
# Usage: bash tests/fuzz/run.sh [SECONDS_PER_TARGET]
set -euo pipefail
seconds=${1:-60}
case $seconds in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
    ;;
esac
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
cd "$fuzz_dir/../.."

# Loud, never a silent skip: CI must not pass without fuzzing.
if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: the nightly toolchain is missing (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz is missing (cargo install cargo-fuzz --locked)" >&2
    exit 1
fi

bash "$fuzz_dir/seed.sh"
cargo +nightly fuzz build --fuzz-dir tests/fuzz

mkdir -p "$fuzz_dir/logs"
# store_segment writes its files under CTRTSPD_FUZZ_TMP (tmpfs if there is one).
shm=/dev/shm
[ -d "$shm" ] || shm=${TMPDIR:-/tmp}
CTRTSPD_FUZZ_TMP=$(mktemp -d "$shm/ctrtspd-fuzz.XXXXXX")
export CTRTSPD_FUZZ_TMP
trap 'rm -rf "$CTRTSPD_FUZZ_TMP"' EXIT
failed=()
for target in $(cargo +nightly fuzz list --fuzz-dir tests/fuzz); do
    log=$fuzz_dir/logs/$target.log
    mkdir -p "$fuzz_dir/corpus/$target" "$fuzz_dir/artifacts/$target"
    # -rss_limit_mb: libFuzzer's default, explicit: ASan's quarantine alone
    # takes a few hundred MiB, a runaway allocation goes far past it.
    # -timeout: no single input may take a second.
    if cargo +nightly fuzz run --fuzz-dir tests/fuzz "$target" -- \
        -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=CRASHED
        failed+=("$target")
    fi
    # libFuzzer's last status line (runs, cov, exec/s) and final stats.
    status=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    printf '%-20s %-7s runs=%s exec/s=%s  %s\n' "$target" "$result" "${runs:-?}" "${speed:-?}" "$status"
    if [ "$result" = CRASHED ]; then
        grep -E -A 20 '^==[0-9]+==|panicked|SUMMARY|Test unit written' "$log" | head -n 60 >&2 || tail -n 40 "$log" >&2
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz/run.sh: crashed: ${failed[*]} (inputs in tests/fuzz/artifacts/, logs in tests/fuzz/logs/)" >&2
    exit 1
fi
echo "fuzz/run.sh: every target ran ${seconds}s without a crash"
