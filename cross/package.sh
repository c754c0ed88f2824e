#!/usr/bin/env bash
# Builds the static firmware binary for one board and packs it:
#
#   cross/package.sh BOARD        # BOARD: a directory under board/, e.g. generic-armv7
#
# -> TARGET_DIR/package/ctrtspd-BOARD-VERSION.tar.gz holding
#    usr/bin/ctrtspd, etc/init.d/ctrtspd, etc/default/ctrtspd,
#    lib/systemd/system/ctrtspd.service, usr/share/doc/ctrtspd/README.md,
#    and the recorder's etc/init.d/ctrtspd-record, etc/default/ctrtspd-record,
#    lib/systemd/system/ctrtspd-record.service, etc/ctrtspd/record.toml
# (laid out as on the box: `tar -xzf ... -C /` installs it). TARGET_DIR is
# cargo's: target/, or CARGO_TARGET_DIR when set. The last line printed is
# `package: tarball PATH`.
#
# Plain cargo with the linkers of .cargo/config.toml; the `demo` feature is
# left out. Fails if the binary has a program interpreter (not static), and
# smoke-runs it under qemu-user (no -L: a static binary needs no sysroot).
set -euo pipefail
cd "$(dirname "$0")/.."

board=${1:-}
if [ -z "$board" ]; then
    echo "usage: cross/package.sh BOARD, one of:" board/*/board.env >&2
    exit 2
fi
env_file=board/$board/board.env
[ -r "$env_file" ] || { echo "package: no $env_file" >&2; exit 2; }
# shellcheck disable=SC1090
. "$env_file"
: "${TARGET:?}" "${RUSTFLAGS:?}" "${CTRTSPD_ROOT:?}" "${CTRTSPD_LISTEN:?}"
export RUSTFLAGS

# Where cargo puts what it builds: CARGO_TARGET_DIR, build.target-dir or
# target/. Asked of cargo itself rather than guessed.
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
[ -d "$target_dir" ] || mkdir -p "$target_dir"

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
name=ctrtspd-$board-$version
echo "package: building $name for $TARGET (RUSTFLAGS=$RUSTFLAGS)"
cargo build --locked --profile firmware --no-default-features --target "$TARGET" --bin ctrtspd
bin=$target_dir/$TARGET/firmware/ctrtspd
[ -x "$bin" ] || { echo "package: $bin was not built" >&2; exit 1; }

# Static check: no PT_INTERP program header, no dynamic section.
if readelf -lW "$bin" | grep -q INTERP; then
    echo "package: $bin has a program interpreter: not static" >&2
    readelf -lW "$bin" | grep -A1 INTERP >&2
    exit 1
fi
if readelf -dW "$bin" | grep -q NEEDED; then
    echo "package: $bin needs shared libraries:" >&2
    readelf -dW "$bin" | grep NEEDED >&2
    exit 1
fi
file "$bin"

# Smoke run on the board's oldest CPU: it must start, print its usage and
# exit 0 by itself (`--help`); an illegal instruction, a missing loader or
# a missing binary is a failure, as is any other exit status.
if [ -n "${QEMU:-}" ]; then
    rc=0
    # shellcheck disable=SC2086
    usage=$(timeout 20 $QEMU "$bin" --help 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] || ! grep -q '^Usage: ' <<<"$usage"; then
        echo "package: '$QEMU $bin --help' failed (exit $rc):" >&2
        printf '%s\n' "$usage" | head -n 20 >&2
        exit 1
    fi
    echo "package: $QEMU $bin --help: exit 0, usage printed"
fi

stage=$target_dir/package/$name
rm -rf "$stage"
install -D -m 0755 "$bin" "$stage$INSTALL_BIN"
install -D -m 0755 board/common/ctrtspd.init "$stage$INSTALL_INIT"
# The board's root and listen address over the shared defaults.
sed -e "s#^CTRTSPD_ROOT=.*#CTRTSPD_ROOT=$CTRTSPD_ROOT#" \
    -e "s#^CTRTSPD_LISTEN=.*#CTRTSPD_LISTEN=$CTRTSPD_LISTEN#" \
    -e "s#^CTRTSPD_LOG_LEVEL=.*#CTRTSPD_LOG_LEVEL=${CTRTSPD_LOG_LEVEL:-info}#" \
    board/common/ctrtspd.default >"$stage.default"
install -D -m 0644 "$stage.default" "$stage$INSTALL_DEFAULTS"
sed -e "s#/mnt/hdd/recordings#$CTRTSPD_ROOT#g" -e "s#0\.0\.0\.0:8554#$CTRTSPD_LISTEN#g" \
    board/common/ctrtspd.service >"$stage.service"
install -D -m 0644 "$stage.service" "$stage$INSTALL_UNIT"
rm -f "$stage.default" "$stage.service"
# The recorder: the same init script under its own name, its defaults,
# unit and configuration, with the board's recordings root.
sed -e 's/^# Provides:.*/# Provides:          ctrtspd-record/' \
    -e 's/^# Short-Description:.*/# Short-Description: ctrtspd recorder: cameras to the store/' \
    board/common/ctrtspd.init >"$stage.init"
install -D -m 0755 "$stage.init" "$stage${INSTALL_INIT}-record"
install -D -m 0644 board/common/ctrtspd-record.default "$stage${INSTALL_DEFAULTS}-record"
sed -e "s#/mnt/hdd/recordings#$CTRTSPD_ROOT#g" board/common/ctrtspd-record.service >"$stage.service"
install -D -m 0644 "$stage.service" "$stage${INSTALL_UNIT%.service}-record.service"
sed -e "s#/mnt/hdd/recordings#$CTRTSPD_ROOT#g" board/common/record.toml >"$stage.toml"
install -D -m 0644 "$stage.toml" "$stage/etc/ctrtspd/record.toml"
rm -f "$stage.init" "$stage.service" "$stage.toml"
install -D -m 0644 board/README.md "$stage/usr/share/doc/ctrtspd/README.md"

tarball=$target_dir/package/$name.tar.gz
# Reproducible-ish: fixed owner and order, mtime of the last commit.
mtime=$(git log -1 --format=%ct 2>/dev/null || date +%s)
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$mtime" \
    -C "$stage" -czf "$tarball" .
rm -rf "$stage"
tar -tvzf "$tarball"
echo "package: $(stat -c %s "$bin") bytes stripped binary"
echo "package: tarball $tarball"
