#!/usr/bin/python3
"""gst-rtsp-server serving one MP4 clip, one pipeline per client: what an
integrator would build. Used by the capacity benchmark for comparison:

    cargo bench --bench capacity -- --only gst --sessions 100

Run by hand:

    /usr/bin/python3 tests/benches/gst_rtsp_server.py PORT FILE.mp4
    # rtsp://127.0.0.1:PORT/clip

Needs Debian's gir1.2-gst-rtsp-server-1.0 and python3-gi.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    port, path = sys.argv[1], sys.argv[2]
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    # The default backlog (5) refuses connections when hundreds arrive at once.
    server.set_backlog(4096)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( filesrc location={path} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 )"
    )
    factory.set_shared(False)
    server.get_mount_points().add_factory("/clip", factory)
    server.attach(None)
    print(f"rtsp://127.0.0.1:{port}/clip", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
