#!/usr/bin/env bash
# Exercises board/common/ctrtspd.init as a BusyBox box runs it: `busybox sh`,
# with BusyBox's start-stop-daemon, sleep, cut, mv and rm first on PATH,
# against a real server binary (default: the host build target/debug/ctrtspd;
# override with CTRTSPD_BIN) listening on 127.0.0.1 only.
#
#   bash .ci/test-init.sh            # after `cargo build`
#
# Steps: start, status, RTSP OPTIONS answered, second start is a no-op,
# reload (SIGHUP: same PID still serving), stop (PID file and process gone),
# status says not running; then as ctrtspd-record: the recorder starts,
# reloads its configuration and stops. Every command is bounded by `timeout`, and the
# EXIT trap kills whatever it started. Ends with "init: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${CTRTSPD_BIN:-$PWD/target/debug/ctrtspd}
busybox=$(command -v busybox) || { echo "test-init: busybox not installed" >&2; exit 1; }
[ -x "$bin" ] || { echo "test-init: $bin missing: run cargo build first" >&2; exit 1; }

tmp=$(mktemp -d)
pidfile=$tmp/ctrtspd.pid
logfile=$tmp/ctrtspd.log
started=
cleanup() {
    local p
    if [ -r "$pidfile" ] && read -r p <"$pidfile" && [ -n "$p" ]; then
        kill -KILL "$p" 2>/dev/null || true
    fi
    if [ -n "$started" ]; then kill -KILL "$started" 2>/dev/null || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/bin" "$tmp/recordings"
for applet in start-stop-daemon sleep cut mv rm; do
    ln -s "$busybox" "$tmp/bin/$applet"
done
export PATH="$tmp/bin:$PATH"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/defaults" <<EOT
CTRTSPD_ROOT=$tmp/recordings
CTRTSPD_LISTEN=127.0.0.1:$port
CTRTSPD_LOG_LEVEL=debug
CTRTSPD_OPTS=
CTRTSPD_LOGFILE=$logfile
EOT
export CTRTSPD_BIN=$bin CTRTSPD_DEFAULTS=$tmp/defaults CTRTSPD_PIDFILE=$pidfile CTRTSPD_STOP_TIMEOUT=10

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() {
    failed=$((failed + 1))
    echo "FAIL $*"
    if [ -r "$logfile" ]; then echo "--- server log:"; tail -n 20 "$logfile"; echo "---"; fi
}
init() { timeout 30 "$busybox" sh board/common/ctrtspd.init "$@"; }
# Process $1 exists and is not a zombie (exited, not yet reaped by init).
alive() {
    local stat
    [ -r "/proc/$1/stat" ] && read -r stat <"/proc/$1/stat" || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}
pid_of() { [ -r "$pidfile" ] && cat "$pidfile"; }

# RTSP OPTIONS on 127.0.0.1:$port; waits up to 10 s for the port to answer.
rtsp_options() {
    timeout 15 python3 - "$port" "$1" <<'PY'
import socket, sys, time
port, cseq = int(sys.argv[1]), sys.argv[2]
req = (f"OPTIONS rtsp://127.0.0.1:{port}/player/regul/1 RTSP/1.0\r\n"
       f"CSeq: {cseq}\r\nUser-Agent: ctrtspd-test-init\r\n\r\n").encode()
deadline = time.monotonic() + 10
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"no listener on 127.0.0.1:{port}")
        time.sleep(0.2)
s.settimeout(3)
s.sendall(req)
resp = b""
while b"\r\n\r\n" not in resp:
    chunk = s.recv(4096)
    if not chunk:
        break
    resp += chunk
head = resp.split(b"\r\n\r\n")[0].decode("latin-1")
lines = head.split("\r\n")
ok = lines[0].startswith("RTSP/1.0 200") and any(
    l.lower().startswith("cseq:") and l.split(":", 1)[1].strip() == cseq for l in lines[1:])
if not ok:
    sys.exit(f"bad OPTIONS answer: {head!r}")
PY
}

if out=$(init start) && pid=$(pid_of) && started=$pid && alive "$pid"; then
    ok "start: $out"
else
    fail "start: ${out:-}"
    pid=
fi

if out=$(init status); then ok "status: $out"; else fail "status running: $out"; fi

if err=$(rtsp_options 1 2>&1); then ok "OPTIONS answered on 127.0.0.1:$port"; else fail "OPTIONS: $err"; fi

if out=$(init start) && [ "$(pid_of)" = "$pid" ]; then
    ok "second start is a no-op: $out"
else
    fail "second start: ${out:-} (pid $(pid_of || true), was $pid)"
fi

if out=$(init reload) && sleep 1 && [ -n "$pid" ] && alive "$pid" \
    && [ "$(pid_of)" = "$pid" ] && err=$(rtsp_options 2 2>&1); then
    ok "reload: $out, same pid still answers"
else
    fail "reload: ${out:-} ${err:-}"
fi

if out=$(init stop) && [ ! -e "$pidfile" ] && ! { [ -n "$pid" ] && alive "$pid"; }; then
    ok "stop: $out, PID file and process gone"
else
    fail "stop: ${out:-}"
fi

rc=0
out=$(init status) || rc=$?
if [ "$rc" = 3 ]; then ok "status after stop: $out (exit 3)"; else fail "status after stop: exit $rc: $out"; fi

# The same script installed as ctrtspd-record runs the recorder.
cat >"$tmp/record.toml" <<EOT
root = "$tmp/recordings"
control = "$tmp/record.sock"
EOT
cat >"$tmp/record-defaults" <<EOT
CTRTSPD_RECORD_CONFIG=$tmp/record.toml
CTRTSPD_LOG_LEVEL=debug
CTRTSPD_OPTS=
CTRTSPD_LOGFILE=$logfile
EOT
export CTRTSPD_SERVICE=ctrtspd-record CTRTSPD_DEFAULTS=$tmp/record-defaults
if out=$(init start) && pid=$(pid_of) && started=$pid && alive "$pid" \
    && grep -q "recording 0 camera(s)" "$logfile"; then
    ok "recorder start: $out"
else
    fail "recorder start: ${out:-}"
    pid=
fi
if out=$(init reload) && sleep 1 && [ -n "$pid" ] && alive "$pid" \
    && grep -q "configuration reloaded" "$logfile"; then
    ok "recorder reload: $out, configuration re-read"
else
    fail "recorder reload: ${out:-}"
fi
if out=$(init stop) && [ ! -e "$pidfile" ] && ! { [ -n "$pid" ] && alive "$pid"; } \
    && grep -q "stopped" "$logfile"; then
    ok "recorder stop: $out"
else
    fail "recorder stop: ${out:-}"
fi

echo "init: $passed passed, $failed failed"
[ "$failed" = 0 ]
