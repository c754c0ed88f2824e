#!/usr/bin/env bash
# Builds the seed corpora of every fuzz target from the real fixtures in
# tests/fixtures/ (RTSP captures, H.264/H.265 streams, RTCP captures) and a
# real segment pair made with `ctrtspd import`. Writes corpus/<target>/
# (git-ignored); idempotent: seeds are named by content, existing ones stay.
# Usage: bash tests/fuzz/seed.sh
set -euo pipefail
fuzz_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$fuzz_dir/../.." && pwd)
fixtures=$repo/tests/fixtures

# A real finished segment: the GOP-25 H.264 stream through the importer.
store=$(mktemp -d /tmp/ctrtspd-fuzz-seed.XXXXXX)
trap 'rm -rf "$store"' EXIT
(cd "$repo" && cargo build --locked --quiet --bin ctrtspd)
"$repo/target/debug/ctrtspd" import --root "$store" --camera 1 --kind regul \
    --start 1709215200 "$fixtures/ffmpeg_testsrc_h264_gop25.264" >/dev/null
idx=$(find "$store" -name '*.idx' | head -n 1)
if [ -z "$idx" ] || [ ! -f "${idx%.idx}.dat" ]; then
    echo "seed.sh: import made no .idx/.dat pair under $store" >&2
    exit 1
fi

python3 - "$fixtures" "$fuzz_dir/corpus" "$idx" "${idx%.idx}.dat" <<'PY'
import glob, hashlib, os, re, struct, sys

fixtures, corpus, idx_path, dat_path = sys.argv[1:]
counts = {}

def seed(target, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    counts[target] = counts.get(target, 0) + 1

def fixture(name):
    with open(os.path.join(fixtures, name), "rb") as f:
        return f.read()

def interleaved(data):
    """Payloads of '$' channel u16-BE-length frames."""
    out, i = [], 0
    while i + 4 <= len(data) and data[i] == 0x24:
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append((data[i + 1], data[i + 4:i + 4 + n]))
        i += 4 + n
    return out

def nal_units(stream):
    starts = [m.end() for m in re.finditer(b"\x00\x00\x01", stream)]
    out = []
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(stream)
        out.append(stream[s:end].rstrip(b"\x00"))
    return [n for n in out if n]

# RTSP: every captured client request, the RTCP a client sent interleaved,
# and all requests of a session back to back.
captures = sorted(os.path.basename(p) for p in
                  glob.glob(os.path.join(fixtures, "*.txt"))
                  if re.match(r"(ffmpeg|gstreamer|vlc)_", os.path.basename(p)))
requests = [fixture(n) for n in captures]
for r in requests + [fixture("gstreamer_rtcp_interleaved.bin")]:
    seed("rtsp_request", r)
seed("rtsp_request", b"".join(requests))
seed("rtsp_request", requests[0] + fixture("gstreamer_rtcp_interleaved.bin") + requests[-1])

now = struct.pack("<q", 1709215800 * 1000000)
for r in requests:
    uri = r.split(b" ")[1] if b" " in r else b""
    seed("rtsp_url", now + uri)
    for line in r.split(b"\r\n"):
        name, _, value = line.partition(b": ")
        if name.lower() in (b"transport", b"range"):
            seed("rtsp_headers", value)
for uri in [b"/player/alarm/12?start=1709215200&stop=1709215260",
            b"rtsp://[::1]:8554/player/regul/3?rstart=120&rstop=60/trackID=0",
            b"/player/regul/7"]:
    seed("rtsp_url", now + uri)
for value in [b"npt=now-", b"npt=10.5-20", b"clock=20240229T160000Z-20240229T161000.5Z",
              b"RTP/AVP/TCP;unicast;interleaved=2-3;mode=play"]:
    seed("rtsp_headers", value)

# ONVIF (the first byte picks): header values of the captures (1), replay
# extensions (0), and 40 ms frames with a key every 5 for the trick plan (2).
onvif_headers = (b"require", b"rate-control", b"frames", b"immediate", b"scale", b"speed",
                 b"range")
for r in requests:
    for line in r.split(b"\r\n"):
        name, _, value = line.partition(b": ")
        if name.lower() in onvif_headers:
            seed("onvif", b"\x01" + value)
for ext in ["abac0003e98b0c6000000000a0090000",
            "abac0005e98b0c6080000000502a1234ffd80001ffffffff"]:
    seed("onvif", b"\x00" + bytes.fromhex(ext))
frames = b"".join(struct.pack("<hB", 40, 1 if i % 5 == 0 else 0) for i in range(30))
for flags in range(0, 64, 7):
    params = bytes([flags]) + struct.pack("<iiii", 2000, 5000, 600, 300)[:15]
    seed("onvif", b"\x02" + params + frames)

# Codecs: whole streams (first byte picks the codec), single NAL units,
# H.265 SPS+PPS+slice triples, and length-prefixed frames.
streams = {0: ["ffmpeg_testsrc_h264_gop25.264", "ffmpeg_testsrc_h264_bframes.264",
               "ffmpeg_testsrc_h264_slices4.264", "rtp_ffmpeg_testsrc_h264.264"],
           1: ["ffmpeg_testsrc_h265_gop25.265", "ffmpeg_testsrc_h265_bframes.265",
               "ffmpeg_testsrc_h265_slices4.265", "rtp_ffmpeg_testsrc_h265.265"]}
for pick, names in streams.items():
    for n in names:
        s = fixture(n)
        seed("codec_access_units", bytes([pick]) + s)
        seed("codec_access_units", bytes([pick]) + s[:2048])
        nals = nal_units(s)
        for nal in nals[:24]:
            seed("codec_sps", nal[:96])
        for k in range(0, min(len(nals), 48), 6):
            seed("codec_nals", b"".join(struct.pack("<I", len(x)) + x for x in nals[k:k + 6]))
        if pick == 1:
            sps = [x for x in nals if (x[0] >> 1) & 0x3f == 33][0]
            pps = [x for x in nals if (x[0] >> 1) & 0x3f == 34][0]
            for x in [x for x in nals if (x[0] >> 1) & 0x3f < 32][:4]:
                # The target's layout: [2L][SPS, L bytes][PPS, L bytes][slice].
                width = max(len(sps), len(pps))
                if 2 * width < 256:
                    seed("codec_sps", bytes([2 * width]) + sps.ljust(width, b"\0")
                         + pps.ljust(width, b"\0") + x[:64])

# RTCP: the compounds GStreamer sent (odd interleaved channels).
for n in ["rtp_gstreamer_rtpbin_rr.bin", "gstreamer_rtcp_interleaved.bin"]:
    for channel, payload in interleaved(fixture(n)):
        if channel % 2 == 1:
            seed("rtcp_compound", payload)

# Store: the imported pair, whole and as pieces, CRCs left or fixed up,
# written at once or grown (flags bit 1, cut at half).
with open(idx_path, "rb") as f:
    idx = f.read()
with open(dat_path, "rb") as f:
    dat = f.read()
header_len = struct.unpack("<H", idx[10:12])[0]
for flags in (0, 1):
    seed("store_layout", bytes([flags]) + idx[:header_len])
    seed("store_layout", bytes([flags]) + dat[:32])
    seed("store_layout", bytes([flags]) + idx[header_len:header_len + 32 * 8])
    seed("store_layout", bytes([flags]) + idx[-32:])
few = header_len + 32 * 6
few_dat = dat[:max(struct.unpack("<Q", idx[few - 24:few - 16])[0]
                   + struct.unpack("<I", idx[few - 28:few - 24])[0], 32)]
for flags in (0, 1, 2, 3):
    seed("store_segment", bytes([flags, 128]) + struct.pack("<I", len(idx)) + idx + dat)
    seed("store_segment", bytes([flags, 128]) + struct.pack("<I", few) + idx[:few] + few_dat)

# The recorder: what gst-rtsp-server sent as a camera (first byte: chunk
# size), and configuration files.
for n in ["gst_camera_h264_digest_tcp.bin", "gst_camera_h265_tcp.bin", "gst_camera_h265_udp.bin"]:
    for pick in (1, 90, 255):
        seed("record_camera", bytes([pick]) + fixture(n)[:16384])
seed("record_config", open(os.path.join(fixtures, "..", "..", "board", "common", "record.toml"), "rb").read())
seed("record_config", b'root = "/r"\nsegment_s = 5\n[[camera]]\nid = 3\nurl = "rtsp://u:p@h:554/x"\n'
     b'transport = "udp"\nalarm_pre_s = 5\n')

for target in sorted(counts):
    print(f"seed.sh: {target}: {counts[target]} seeds")
PY
