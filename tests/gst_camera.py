#!/usr/bin/python3
"""A live camera for the recorder's tests: gst-rtsp-server with a live
`videotestsrc` encoded by x264enc (or x265enc), shared between clients as a
camera's stream is.

    /usr/bin/python3 tests/gst_camera.py PORT [--h265] [--digest USER:PASSWORD] [--fps N]
        [--audio pcma|pcmu|aac|aac-latm|g726]
    # prints rtsp://127.0.0.1:PORT/cam when ready

With --audio, a second stream: a live `audiotestsrc` (a 440 Hz sine, 20 ms
buffers) as G.711 A-law or µ-law at 8 kHz (`rtppcmapay`/`rtppcmupay`),
AAC-LC at 16 kHz mono in RFC 3640 AAC-hbr (`avenc_aac ! rtpmp4gpay`) or in
RFC 3016 LATM (`rtpmp4apay`), or G.726 (an audio codec the recorder skips).

Needs Debian's gir1.2-gst-rtsp-server-1.0, python3-gi, gstreamer1.0-plugins-ugly
(x264enc), gstreamer1.0-plugins-bad (x265enc) and gstreamer1.0-libav (avenc_aac). The GOP is one second
(key-int-max = fps), like a camera's.
"""
import argparse

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port")
    ap.add_argument("--h265", action="store_true")
    ap.add_argument("--digest", help="USER:PASSWORD")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--audio", choices=["pcma", "pcmu", "aac", "aac-latm", "g726"])
    a = ap.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(a.port)
    src = (
        f"videotestsrc is-live=true pattern=ball ! "
        f"video/x-raw,width=320,height=240,framerate={a.fps}/1"
    )
    if a.h265:
        enc = (
            f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={a.fps} "
            "! h265parse config-interval=-1 ! rtph265pay name=pay0 pt=96"
        )
    else:
        enc = (
            f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={a.fps} "
            "! h264parse config-interval=-1 ! rtph264pay name=pay0 pt=96"
        )
    audio = ""
    if a.audio:
        def asrc(rate, samples):
            return (
                f"audiotestsrc is-live=true wave=sine freq=440 volume=0.3 samplesperbuffer={samples} "
                f"! audio/x-raw,format=S16LE,rate={rate},channels=1"
            )

        audio = {
            "pcma": f"{asrc(8000, 160)} ! alawenc ! rtppcmapay name=pay1 pt=8",
            "pcmu": f"{asrc(8000, 160)} ! mulawenc ! rtppcmupay name=pay1 pt=0",
            "aac": f"{asrc(16000, 320)} ! audioconvert ! avenc_aac ! aacparse ! rtpmp4gpay name=pay1 pt=97",
            "aac-latm": f"{asrc(16000, 320)} ! audioconvert ! avenc_aac ! aacparse ! rtpmp4apay name=pay1 pt=97",
            "g726": f"{asrc(8000, 160)} ! audioconvert ! avenc_g726 bitrate=32000 ! rtpg726pay name=pay1 pt=98",
        }[a.audio]
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( {src} ! {enc} {audio} )")
    factory.set_shared(True)
    if a.digest:
        user, password = a.digest.split(":", 1)
        auth = GstRtspServer.RTSPAuth()
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "cam")
        auth.add_digest(user, password, token)
        server.set_auth(auth)
        factory.add_role_from_structure(
            Gst.Structure.new_from_string(
                "cam, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )
    server.get_mount_points().add_factory("/cam", factory)
    server.attach(None)
    print(f"rtsp://127.0.0.1:{a.port}/cam", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
