//! The receiving side, for tests and end-to-end tests: parse RTP packets
//! and reassemble access units. It allocates freely; the server never uses it.

use super::{h264, h265};
use crate::codec::Codec;

use super::header::{INTERLEAVED_PREFIX_LEN, OnvifReplayExt, RTP_HEADER_LEN, RtpHeader};

/// Why an RTP packet could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpError {
    /// Offset in the packet where the fault was found.
    pub offset: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl core::fmt::Display for RtpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "invalid RTP at byte {}: {}", self.offset, self.reason)
    }
}

/// A header extension as received (RFC 3550 §5.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpExtension<'a> {
    /// The "defined by profile" field (0xABAC for ONVIF replay).
    pub profile: u16,
    /// The extension data, without its 4-byte header.
    pub data: &'a [u8],
}

/// An RTP packet split into its parts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedRtp<'a> {
    /// Fixed header fields.
    pub header: RtpHeader,
    /// Number of CSRCs that were skipped.
    pub csrc_count: u8,
    /// The header extension, when the X bit is set.
    pub ext: Option<RtpExtension<'a>>,
    /// The payload, padding removed.
    pub payload: &'a [u8],
}

impl ParsedRtp<'_> {
    /// The ONVIF replay extension, when the packet carries one.
    pub fn onvif_ext(&self) -> Option<OnvifReplayExt> {
        let ext = self.ext?;
        OnvifReplayExt::from_ext(ext.profile, ext.data)
    }
}

/// Parses one RTP packet (no interleaved prefix).
///
/// # Errors
///
/// [`RtpError`] if it is not version 2 or its CSRCs, extension or padding
/// run past its end.
pub fn parse_rtp(buf: &[u8]) -> Result<ParsedRtp<'_>, RtpError> {
    let err = |offset, reason| RtpError { offset, reason };
    let fixed: &[u8; RTP_HEADER_LEN] = buf
        .first_chunk()
        .ok_or(err(0, "shorter than the RTP header"))?;
    let [b0, b1, s0, s1, t0, t1, t2, t3, c0, c1, c2, c3] = *fixed;
    if b0 >> 6 != 2 {
        return Err(err(0, "version is not 2"));
    }
    let csrc_count = b0 & 0x0f;
    let mut pos = RTP_HEADER_LEN + 4 * usize::from(csrc_count);
    let mut end = buf.len();
    if b0 & 0x20 != 0 {
        let pad = usize::from(*buf.last().ok_or(err(0, "empty"))?);
        if pad == 0 {
            return Err(err(end - 1, "padding count is zero"));
        }
        end = end
            .checked_sub(pad)
            .ok_or(err(end - 1, "padding longer than the packet"))?;
    }
    if pos > end {
        return Err(err(pos, "CSRCs past end"));
    }
    let mut ext = None;
    if b0 & 0x10 != 0 {
        let h: &[u8; 4] = buf
            .get(pos..)
            .and_then(<[u8]>::first_chunk)
            .filter(|_| pos + 4 <= end)
            .ok_or(err(pos, "extension header past end"))?;
        let profile = u16::from_be_bytes([h[0], h[1]]);
        let data_len = 4 * usize::from(u16::from_be_bytes([h[2], h[3]]));
        let data = buf
            .get(pos + 4..pos + 4 + data_len)
            .filter(|_| pos + 4 + data_len <= end)
            .ok_or(err(pos, "extension data past end"))?;
        ext = Some(RtpExtension { profile, data });
        pos += 4 + data_len;
    }
    let payload = buf.get(pos..end).ok_or(err(pos, "payload past end"))?;
    Ok(ParsedRtp {
        header: RtpHeader {
            payload_type: b1 & 0x7f,
            marker: b1 & 0x80 != 0,
            seq: u16::from_be_bytes([s0, s1]),
            ts_90k: u32::from_be_bytes([t0, t1, t2, t3]),
            ssrc: u32::from_be_bytes([c0, c1, c2, c3]),
        },
        csrc_count,
        ext,
        payload,
    })
}

/// One interleaved frame (RFC 2326 §10.12) found at the start of a TCP stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interleaved<'a> {
    /// The channel byte (RTP and RTCP of a stream use an even/odd pair).
    pub channel: u8,
    /// The RTP or RTCP packet it carries.
    pub packet: &'a [u8],
    /// Bytes of the stream the frame took, prefix included.
    pub consumed_bytes: usize,
}

/// Splits the first interleaved frame off a TCP byte stream: `Ok(None)` if
/// incomplete.
pub fn split_interleaved(buf: &[u8]) -> Result<Option<Interleaved<'_>>, RtpError> {
    let Some(&[dollar, channel, l0, l1]) = buf.first_chunk::<INTERLEAVED_PREFIX_LEN>() else {
        return Ok(None);
    };
    if dollar != b'$' {
        return Err(RtpError {
            offset: 0,
            reason: "interleaved frame does not start with '$'",
        });
    }
    let end = INTERLEAVED_PREFIX_LEN + usize::from(u16::from_be_bytes([l0, l1]));
    Ok(buf
        .get(INTERLEAVED_PREFIX_LEN..end)
        .map(|packet| Interleaved {
            channel,
            packet,
            consumed_bytes: end,
        }))
}

/// One reassembled access unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessUnit {
    /// RTP timestamp of its packets.
    pub ts_90k: u32,
    /// Its NAL units, without start codes.
    pub nals: Vec<Vec<u8>>,
    /// Packets were lost or dropped while it was being received: some NALs
    /// may be missing.
    pub damaged: bool,
}

/// Why a packet could not be depacketized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DepacketizeError {
    /// The RTP packet itself is malformed.
    Rtp(RtpError),
    /// The payload is malformed or of an unsupported type.
    Payload {
        /// Sequence number of the packet.
        seq: u16,
        /// What is wrong.
        reason: &'static str,
    },
}

impl From<RtpError> for DepacketizeError {
    fn from(e: RtpError) -> Self {
        Self::Rtp(e)
    }
}

/// Reassembles access units from RTP packets of one stream (RFC 6184
/// non-interleaved mode, RFC 7798 without DONL).
#[derive(Clone, Debug)]
pub struct Depacketizer {
    codec: Codec,
    last_seq: Option<u16>,
    /// Timestamp of the access unit being received.
    cur_ts_90k: Option<u32>,
    nals: Vec<Vec<u8>>,
    /// The NAL being reassembled from FUs.
    fu: Option<Vec<u8>>,
    damaged: bool,
    seq_gaps: u32,
}

impl Depacketizer {
    /// A depacketizer for `codec`.
    pub fn new(codec: Codec) -> Self {
        Self {
            codec,
            last_seq: None,
            cur_ts_90k: None,
            nals: Vec::new(),
            fu: None,
            damaged: false,
            seq_gaps: 0,
        }
    }

    /// Number of sequence number discontinuities seen so far.
    pub fn seq_gaps(&self) -> u32 {
        self.seq_gaps
    }

    /// Takes one RTP packet; returns the access unit it completes (M bit).
    ///
    /// A sequence gap or a timestamp change without a marker drops what was
    /// being reassembled and flags the next access unit as damaged.
    pub fn push(&mut self, pkt: &[u8]) -> Result<Option<AccessUnit>, DepacketizeError> {
        let p = parse_rtp(pkt)?;
        let h = p.header;
        if let Some(last) = self.last_seq
            && h.seq != last.wrapping_add(1)
        {
            self.seq_gaps += 1;
            self.drop_partial();
            // The lost packets may have been the start of this access unit.
            self.damaged = true;
        }
        self.last_seq = Some(h.seq);
        if self.cur_ts_90k.is_some_and(|ts| ts != h.ts_90k) {
            self.drop_partial();
        }
        self.cur_ts_90k = Some(h.ts_90k);
        let payload_err = |reason| DepacketizeError::Payload { seq: h.seq, reason };
        let result = match self.codec {
            Codec::H264 => self.push_h264(p.payload),
            Codec::H265 => self.push_h265(p.payload),
        };
        if let Err(reason) = result {
            self.drop_partial();
            return Err(payload_err(reason));
        }
        if !h.marker {
            return Ok(None);
        }
        if self.fu.take().is_some() {
            self.damaged = true;
        }
        self.cur_ts_90k = None;
        Ok(Some(AccessUnit {
            ts_90k: h.ts_90k,
            nals: core::mem::take(&mut self.nals),
            damaged: core::mem::take(&mut self.damaged),
        }))
    }

    fn drop_partial(&mut self) {
        if !self.nals.is_empty() || self.fu.is_some() {
            self.damaged = true;
        }
        self.nals.clear();
        self.fu = None;
        self.cur_ts_90k = None;
    }

    fn push_h264(&mut self, payload: &[u8]) -> Result<(), &'static str> {
        let &h = payload.first().ok_or("empty payload")?;
        match h264::nal_type(h) {
            1..=23 => self.nals.push(payload.to_vec()),
            h264::STAP_A => self.push_aggregate(payload.get(1..).unwrap_or(&[]))?,
            h264::FU_A => {
                let &fu = payload.get(1).ok_or("FU-A without FU header")?;
                let data = payload.get(2..).unwrap_or(&[]);
                self.push_fu(fu, &[h264::nal_header_from_fu(h, fu)], data)?;
            }
            _ => return Err("unsupported H.264 payload type"),
        }
        Ok(())
    }

    fn push_h265(&mut self, payload: &[u8]) -> Result<(), &'static str> {
        let &[p0, p1] = payload.first_chunk().ok_or("payload shorter than 2")?;
        match h265::nal_type(p0) {
            0..=47 => self.nals.push(payload.to_vec()),
            h265::AP => self.push_aggregate(payload.get(2..).unwrap_or(&[]))?,
            h265::FU => {
                let &fu = payload.get(2).ok_or("FU without FU header")?;
                let data = payload.get(3..).unwrap_or(&[]);
                self.push_fu(fu, &h265::nal_header_from_fu(p0, p1, fu), data)?;
            }
            _ => return Err("unsupported H.265 payload type"),
        }
        Ok(())
    }

    /// STAP-A / AP body: NALs each behind a 16-bit size.
    fn push_aggregate(&mut self, mut body: &[u8]) -> Result<(), &'static str> {
        if body.is_empty() {
            return Err("empty aggregation packet");
        }
        while let Some(&[s0, s1]) = body.first_chunk::<2>() {
            let len = usize::from(u16::from_be_bytes([s0, s1]));
            let nal = body.get(2..2 + len).ok_or("aggregated NAL past end")?;
            self.nals.push(nal.to_vec());
            body = body.get(2 + len..).unwrap_or(&[]);
        }
        if !body.is_empty() {
            return Err("trailing byte in aggregation packet");
        }
        Ok(())
    }

    fn push_fu(
        &mut self,
        fu_header: u8,
        nal_header: &[u8],
        data: &[u8],
    ) -> Result<(), &'static str> {
        let (start, end) = (fu_header & 0x80 != 0, fu_header & 0x40 != 0);
        if start && end {
            return Err("FU with both S and E");
        }
        if start {
            if self.fu.is_some() {
                self.damaged = true;
            }
            let mut nal = nal_header.to_vec();
            nal.extend_from_slice(data);
            self.fu = Some(nal);
        } else if let Some(nal) = self.fu.as_mut() {
            nal.extend_from_slice(data);
            if end && let Some(nal) = self.fu.take() {
                self.nals.push(nal);
            }
        } else {
            // Middle or end of a NAL whose start was lost.
            self.damaged = true;
        }
        Ok(())
    }
}
