//! RTP packets of one camera stream → frames as the store keeps them: the
//! NAL units of one access unit, each behind a u32 LE length
//! ([`crate::codec::nals`]), without parameter sets, AUDs and filler; the
//! parameter sets apart ([`ParamSets`]), updated from the stream.
//!
//! Unlike [`crate::rtp::Depacketizer`] (for tests) it reuses one buffer:
//! no allocation per packet or frame once the buffer has grown to the
//! largest frame. A frame with a lost packet is not stored, nor anything
//! after it up to the next keyframe: a decoder could not use them.

use crate::codec::Codec;
use crate::codec::nal_type::{is_keyframe, is_parameter_set, is_vcl, nal_type};
use crate::rtp::{h264, h265, parse_rtp};
use crate::store::ParamSets;

/// Largest frame accepted; a bigger one is dropped as damaged.
pub const MAX_FRAME_BYTES: usize = 8 << 20;

/// One whole frame, borrowed from the assembler until the next push.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// RTP timestamp.
    pub ts: u32,
    /// An IDR / IRAP picture.
    pub keyframe: bool,
    /// Length-prefixed NAL units.
    pub payload: &'a [u8],
    /// Parameter sets in force.
    pub params: &'a ParamSets,
    /// The parameter sets differ from the previous frame's.
    pub params_changed: bool,
}

/// Counters of what was not stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Sequence number discontinuities.
    pub seq_gaps: u64,
    /// Frames dropped (damaged, or waiting for a keyframe after damage).
    pub dropped_frames: u64,
    /// Packets of another payload type, or malformed.
    pub bad_packets: u64,
}

/// Reassembles frames from RTP packets of one H.264/H.265 stream
/// (RFC 6184 non-interleaved, RFC 7798 without DONL).
#[derive(Debug)]
pub struct FrameAssembler {
    codec: Codec,
    payload_type: u8,
    buf: Vec<u8>,
    /// Start in `buf` of the NAL being reassembled from FUs.
    fu_start: Option<usize>,
    cur_ts: Option<u32>,
    last_seq: Option<u16>,
    keyframe: bool,
    has_vcl: bool,
    damaged: bool,
    /// After damage: drop frames until a keyframe.
    need_keyframe: bool,
    params: ParamSets,
    /// Parameter sets seen in the frame being received.
    new_params: ParamSets,
    params_seen: bool,
    /// The last frame returned still borrows `buf`: clear it on the next push.
    pending_clear: bool,
    stats: FrameStats,
}

impl FrameAssembler {
    /// An assembler for `codec` packets of `payload_type`, starting from
    /// the parameter sets the SDP announced.
    pub fn new(codec: Codec, payload_type: u8, params: ParamSets) -> Self {
        Self {
            codec,
            payload_type,
            buf: Vec::with_capacity(64 * 1024),
            fu_start: None,
            cur_ts: None,
            last_seq: None,
            keyframe: false,
            has_vcl: false,
            damaged: false,
            // The store's segments start on a keyframe.
            need_keyframe: true,
            params,
            new_params: ParamSets::default(),
            params_seen: false,
            pending_clear: false,
            stats: FrameStats::default(),
        }
    }

    /// What was dropped so far.
    pub fn stats(&self) -> FrameStats {
        self.stats
    }

    /// The codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    fn reset_frame(&mut self) {
        self.buf.clear();
        self.fu_start = None;
        self.cur_ts = None;
        self.keyframe = false;
        self.has_vcl = false;
        self.damaged = false;
        self.new_params = ParamSets::default();
        self.params_seen = false;
    }

    fn drop_partial(&mut self) {
        if !self.buf.is_empty() || self.fu_start.is_some() || self.params_seen {
            self.stats.dropped_frames += 1;
            self.need_keyframe = true;
        }
        self.reset_frame();
    }

    /// Takes one RTP packet; returns the frame its marker bit completes.
    pub fn push(&mut self, pkt: &[u8]) -> Option<Frame<'_>> {
        if core::mem::take(&mut self.pending_clear) {
            self.reset_frame();
        }
        let Ok(p) = parse_rtp(pkt) else {
            self.stats.bad_packets += 1;
            return None;
        };
        let h = p.header;
        if h.payload_type != self.payload_type {
            self.stats.bad_packets += 1;
            return None;
        }
        if let Some(last) = self.last_seq {
            let step = h.seq.wrapping_sub(last);
            if step == 0 || step > 0x8000 {
                // A duplicate or a late packet: its frame is gone already.
                return None;
            }
            if step != 1 {
                self.stats.seq_gaps += 1;
                self.damaged = true;
                self.need_keyframe = true;
            }
        }
        self.last_seq = Some(h.seq);
        if self.cur_ts.is_some_and(|ts| ts != h.ts_90k) {
            // The previous frame's last packet (with the marker) was lost.
            self.drop_partial();
        }
        self.cur_ts = Some(h.ts_90k);
        let ok = match self.codec {
            Codec::H264 => self.push_h264(p.payload),
            Codec::H265 => self.push_h265(p.payload),
        };
        if !ok || self.buf.len() > MAX_FRAME_BYTES {
            self.stats.bad_packets += u64::from(!ok);
            self.damaged = true;
        }
        if !h.marker {
            return None;
        }
        if self.fu_start.is_some() {
            self.damaged = true;
        }
        if self.damaged {
            self.stats.dropped_frames += 1;
            self.reset_frame();
            self.need_keyframe = true;
            return None;
        }
        let mut params_changed = false;
        if self.params_seen {
            let n = &mut self.new_params;
            for (new, cur) in [
                (&mut n.vps, &mut self.params.vps),
                (&mut n.sps, &mut self.params.sps),
                (&mut n.pps, &mut self.params.pps),
            ] {
                if !new.is_empty() && new != cur {
                    core::mem::swap(new, cur);
                    params_changed = true;
                }
            }
        }
        if !self.has_vcl || (self.need_keyframe && !self.keyframe) {
            if self.has_vcl {
                self.stats.dropped_frames += 1;
            }
            self.reset_frame();
            return None;
        }
        self.need_keyframe = false;
        // Cleared lazily: the frame borrows `buf` until the next push.
        self.pending_clear = true;
        Some(Frame {
            ts: h.ts_90k,
            keyframe: self.keyframe,
            payload: &self.buf,
            params: &self.params,
            params_changed,
        })
    }

    fn push_h264(&mut self, payload: &[u8]) -> bool {
        let Some(&hdr) = payload.first() else {
            return false;
        };
        match h264::nal_type(hdr) {
            1..=23 => self.push_nal(payload),
            h264::STAP_A => self.push_aggregate(payload.get(1..).unwrap_or(&[])),
            h264::FU_A => match (payload.get(1), payload.get(2..)) {
                (Some(&fu), Some(data)) => {
                    self.push_fu(fu, &[h264::nal_header_from_fu(hdr, fu)], data)
                }
                _ => false,
            },
            _ => false,
        }
    }

    fn push_h265(&mut self, payload: &[u8]) -> bool {
        let Some(&[p0, p1]) = payload.first_chunk::<2>() else {
            return false;
        };
        match h265::nal_type(p0) {
            0..=47 => self.push_nal(payload),
            h265::AP => self.push_aggregate(payload.get(2..).unwrap_or(&[])),
            h265::FU => match (payload.get(2), payload.get(3..)) {
                (Some(&fu), Some(data)) => {
                    self.push_fu(fu, &h265::nal_header_from_fu(p0, p1, fu), data)
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// STAP-A / AP body: NALs each behind a 16-bit size.
    fn push_aggregate(&mut self, mut body: &[u8]) -> bool {
        if body.is_empty() {
            return false;
        }
        while let Some(&[s0, s1]) = body.first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes([s0, s1]));
            let Some(nal) = body.get(2..2 + len) else {
                return false;
            };
            if !self.push_nal(nal) {
                return false;
            }
            body = body.get(2 + len..).unwrap_or(&[]);
        }
        body.is_empty()
    }

    fn push_fu(&mut self, fu_header: u8, nal_header: &[u8], data: &[u8]) -> bool {
        let (start, end) = (fu_header & 0x80 != 0, fu_header & 0x40 != 0);
        if start && end {
            return false;
        }
        if start {
            if self.fu_start.is_some() {
                return false;
            }
            self.fu_start = Some(self.buf.len());
            self.buf.extend_from_slice(&[0; 4]);
            self.buf.extend_from_slice(nal_header);
        } else if self.fu_start.is_none() {
            // The start of this NAL was lost (counted as a sequence gap).
            self.damaged = true;
            return true;
        }
        self.buf.extend_from_slice(data);
        if end && let Some(at) = self.fu_start.take() {
            return self.finish_nal(at);
        }
        true
    }

    fn push_nal(&mut self, nal: &[u8]) -> bool {
        if self.fu_start.is_some() {
            return false;
        }
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.extend_from_slice(nal);
        self.finish_nal(at)
    }

    /// Classifies the NAL written at `at` (behind a length placeholder):
    /// parameter sets move to `new_params`, AUD and filler go, the rest
    /// gets its length.
    fn finish_nal(&mut self, at: usize) -> bool {
        let nal = self.buf.get(at + 4..).unwrap_or(&[]);
        let Some(t) = nal_type(self.codec, nal) else {
            return false;
        };
        let Ok(len) = u32::try_from(nal.len()) else {
            return false;
        };
        let (aud, filler) = match self.codec {
            Codec::H264 => (9, 12),
            Codec::H265 => (35, 38),
        };
        if is_parameter_set(self.codec, t) {
            let slot = match (self.codec, t) {
                (Codec::H265, 32) => &mut self.new_params.vps,
                (Codec::H264, 7) | (Codec::H265, 33) => &mut self.new_params.sps,
                _ => &mut self.new_params.pps,
            };
            slot.clear();
            slot.extend_from_slice(nal);
            self.params_seen = true;
            self.buf.truncate(at);
        } else if t == aud || t == filler {
            self.buf.truncate(at);
        } else {
            if is_vcl(self.codec, t) {
                self.has_vcl = true;
                self.keyframe |= is_keyframe(self.codec, t);
            }
            if let Some(l) = self.buf.get_mut(at..at + 4) {
                l.copy_from_slice(&len.to_le_bytes());
            }
        }
        true
    }
}

#[cfg(test)]
mod tests;
