#!/usr/bin/env bash
# Prints the stripped size of the board binary (firmware profile, no demo
# feature), per board. With --matrix, also for opt-level 3/s/z and panic
# unwind/abort, to revisit the choices in Cargo.toml [profile.*].
#
#   cross/sizes.sh                    # one line per board, current profile
#   cross/sizes.sh --matrix [BOARD]   # opt-level x panic, slow: 6 builds per board
#
# Builds go to target/sizes/ so they don't disturb target/<triple>/firmware.
set -euo pipefail
cd "$(dirname "$0")/.."

matrix=0
if [ "${1:-}" = "--matrix" ]; then matrix=1; shift; fi
boards=("$@")
[ ${#boards[@]} -gt 0 ] || boards=(generic-aarch64 generic-armv7)

size_of() { # board [opt panic] -> prints bytes; no opt/panic: as in Cargo.toml
    local board=$1 opt=${2:-} panic=${3:-} dir=target/sizes/cargo-toml
    [ -z "$opt" ] || dir=target/sizes/$opt-$panic
    (
        # shellcheck disable=SC1090
        . "board/$board/board.env"
        export RUSTFLAGS
        [ -z "$opt" ] || export CARGO_PROFILE_FIRMWARE_OPT_LEVEL="$opt" \
            CARGO_PROFILE_FIRMWARE_PANIC="$panic"
        # shellcheck disable=SC2153 # TARGET comes from board.env
        CARGO_TARGET_DIR="$dir" cargo build --quiet --locked --profile firmware \
            --no-default-features --target "$TARGET" --bin ctrtspd
        stat -c %s "$dir/$TARGET/firmware/ctrtspd"
    )
}

printf '%-16s %-32s %-9s %-7s %10s\n' board target opt-level panic bytes
for board in "${boards[@]}"; do
    # shellcheck disable=SC1090
    target=$(. "board/$board/board.env"; echo "$TARGET")
    if [ $matrix = 1 ]; then
        for opt in 3 s z; do
            for panic in abort unwind; do
                printf '%-16s %-32s %-9s %-7s %10s\n' "$board" "$target" "$opt" "$panic" \
                    "$(size_of "$board" "$opt" "$panic")"
            done
        done
    else
        printf '%-16s %-32s %-9s %-7s %10s\n' "$board" "$target" Cargo.toml Cargo.toml \
            "$(size_of "$board")"
    fi
done
