#!/usr/bin/python3
"""GStreamer's ONVIF replay client against ctrtspd, for tests/e2e_onvif.rs.

Plays URL with `rtspsrc onvif-mode=true ! rtponvifparse ! fakesink` over
TCP, every request with `Require: onvif-replay`, and prints one line per access unit that carried the ONVIF replay
extension: `au <ntp_ns> <key 0|1> <discont 0|1> <mono_ns>` (ntp_ns: the
buffer PTS rtponvifparse set from the extension, ns since 1900; mono_ns:
when it arrived), then `eos`, `error <text>` or `idle` (nothing for 3 s
after the last buffer), and `elapsed <ns>` (of the last access unit).

Usage: onvif_replay.py URL RATE_CONTROL(yes|no) [SEEK_CLOCK_NS [RATE]]
With SEEK_CLOCK_NS, seeks there (a clock time, ns since 1900, as
onvif-mode takes it) once the stream has started, and prints `seek` first;
with another RATE, plays at that rate from there (negative: backwards, to
the window's start).
Ends by itself: EOS, an error, or 60 s.
"""
import os
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp  # noqa: E402

# A PTS from the extension is an NTP time: past 1970 in ns since 1900.
NTP_UNIX_OFFSET_NS = 2_208_988_800 * 1_000_000_000


def main():
    url, rate_control = sys.argv[1], sys.argv[2] == "yes"
    seek_ns = int(sys.argv[3]) if len(sys.argv) > 3 else None
    rate = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    Gst.init(None)
    pipe = Gst.parse_launch(
        f"rtspsrc name=src location={url} protocols=tcp onvif-mode=true "
        f"onvif-rate-control={'true' if rate_control else 'false'} latency=0 "
        "! rtponvifparse name=parse ! fakesink sync=false"
    )
    loop = GLib.MainLoop()
    start = time.monotonic_ns()
    state = {"seeked": seek_ns is None, "seen": 0, "ext": False, "last": None}

    def sink_probe(_pad, info):
        # Whether the packet carries the replay extension (X bit, profile
        # 0xABAC): only those buffers' PTS come from it.
        head = info.get_buffer().extract_dup(0, 16)
        state["ext"] = (
            len(head) >= 16 and head[0] & 0x10 != 0 and head[12:14] == b"\xab\xac"
        )
        return Gst.PadProbeReturn.OK

    def probe(_pad, info):
        buf = info.get_buffer()
        pts = buf.pts
        if state["ext"] and pts != Gst.CLOCK_TIME_NONE and pts > NTP_UNIX_OFFSET_NS:
            key = 0 if buf.has_flags(Gst.BufferFlags.DELTA_UNIT) else 1
            disc = 1 if buf.has_flags(Gst.BufferFlags.DISCONT) else 0
            state["last"] = time.monotonic_ns()
            if state["seeked"]:
                print(f"au {pts} {key} {disc} {state['last'] - start}", flush=True)
            state["seen"] += 1
            if not state["seeked"] and state["seen"] == 5:
                state["seeked"] = True
                GLib.idle_add(do_seek)
        return Gst.PadProbeReturn.OK

    def do_seek():
        print("seek", flush=True)
        if rate == 1.0:
            pipe.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH, seek_ns)
        elif rate > 0:
            pipe.seek(
                rate,
                Gst.Format.TIME,
                Gst.SeekFlags.FLUSH,
                Gst.SeekType.SET,
                seek_ns,
                Gst.SeekType.NONE,
                0,
            )
        else:
            pipe.seek(
                rate,
                Gst.Format.TIME,
                Gst.SeekFlags.FLUSH,
                Gst.SeekType.NONE,
                0,
                Gst.SeekType.SET,
                seek_ns,
            )
        return False

    def before_send(_src, msg):
        # As an ONVIF client must (GStreamer 1.22 does not by itself): the
        # server then puts the SDP's clock range first, which onvif-mode reads.
        msg.add_header(GstRtsp.RTSPHeaderField.REQUIRE, "onvif-replay")
        return True

    pipe.get_by_name("src").connect("before-send", before_send)
    parse = pipe.get_by_name("parse")
    parse.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, sink_probe)
    parse.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)

    def on_message(_bus, msg):
        if msg.type == Gst.MessageType.EOS:
            print("eos", flush=True)
            loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            err, _ = msg.parse_error()
            print(f"error {err.message}", flush=True)
            loop.quit()

    bus = pipe.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    def check_idle():
        last = state["last"]
        if last is not None and time.monotonic_ns() - last > 3_000_000_000:
            print("idle", flush=True)
            loop.quit()
            return False
        return True

    GLib.timeout_add(200, check_idle)
    GLib.timeout_add_seconds(60, loop.quit)
    pipe.set_state(Gst.State.PLAYING)
    loop.run()
    print(f"elapsed {(state['last'] or time.monotonic_ns()) - start}", flush=True)
    # Tearing the pipeline down can block in rtspsrc; the process ends here.
    os._exit(0)


if __name__ == "__main__":
    main()
