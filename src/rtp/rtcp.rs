//! RTCP (RFC 3550 §6): the compound packets the server sends (sender
//! report, goodbye) and a validating reader for what clients send back
//! (receiver reports, used as keep-alives; BYE).

/// Packet type of a sender report (RFC 3550 §6.4.1).
pub const PT_SR: u8 = 200;
/// Packet type of a receiver report (RFC 3550 §6.4.2).
pub const PT_RR: u8 = 201;
/// Packet type of source description (RFC 3550 §6.5).
pub const PT_SDES: u8 = 202;
/// Packet type of goodbye (RFC 3550 §6.6).
pub const PT_BYE: u8 = 203;
/// Packet type of application-defined (RFC 3550 §6.7).
pub const PT_APP: u8 = 204;

/// SDES item type of CNAME.
const SDES_CNAME: u8 = 1;

/// Bytes of an SR without report blocks: header, SSRC, NTP, RTP ts, counts.
const SR_LEN: usize = 28;
/// Bytes of an RR without report blocks: header and SSRC.
const EMPTY_RR_LEN: usize = 8;
/// Bytes of a BYE with one SSRC and no reason.
const BYE_LEN: usize = 8;
/// Bytes of one report block in an SR or RR.
const REPORT_BLOCK_LEN: usize = 24;
/// The longest CNAME: its SDES length field is one byte.
pub const MAX_CNAME_LEN: usize = 255;

/// Why an RTCP packet could not be written or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RtcpError {
    /// The output buffer is too small for the compound packet.
    BufferTooSmall {
        /// Bytes the packet needs.
        needed_bytes: usize,
    },
    /// The CNAME is longer than [`MAX_CNAME_LEN`].
    CnameTooLong {
        /// Its length.
        len_bytes: usize,
    },
    /// A received compound packet is malformed.
    Invalid {
        /// Offset in the compound packet of the offending RTCP packet.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl core::fmt::Display for RtcpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BufferTooSmall { needed_bytes } => {
                write!(f, "RTCP packet needs {needed_bytes} bytes")
            }
            Self::CnameTooLong { len_bytes } => write!(f, "CNAME of {len_bytes} bytes"),
            Self::Invalid { offset, reason } => {
                write!(f, "invalid RTCP at byte {offset}: {reason}")
            }
        }
    }
}

/// Writes a compound packet: an SR without report blocks (the server
/// receives no RTP) followed by an SDES with the CNAME (RFC 3550 §6.1:
/// every compound packet carries a CNAME). Returns its length in bytes.
///
/// `ntp` and `ts_90k` are the same instant, wallclock and RTP clock: that is
/// what lets a client map RTP times to wallclock times.
///
/// # Errors
///
/// [`RtcpError::BufferTooSmall`] if `out` cannot hold the packet,
/// [`RtcpError::CnameTooLong`] if `cname` exceeds [`MAX_CNAME_LEN`].
pub fn write_sender_report(
    out: &mut [u8],
    ssrc: u32,
    ntp: u64,
    ts_90k: u32,
    packet_count: u32,
    octet_count: u32,
    cname: &str,
) -> Result<usize, RtcpError> {
    let needed_bytes = SR_LEN + sdes_len(cname)?;
    let out = out
        .get_mut(..needed_bytes)
        .ok_or(RtcpError::BufferTooSmall { needed_bytes })?;
    let mut w = Writer { out, pos: 0 };
    w.header(0, PT_SR, SR_LEN);
    w.put(&ssrc.to_be_bytes());
    w.put(&ntp.to_be_bytes());
    w.put(&ts_90k.to_be_bytes());
    w.put(&packet_count.to_be_bytes());
    w.put(&octet_count.to_be_bytes());
    w.sdes(ssrc, cname);
    Ok(w.pos)
}

/// Writes the compound packet that ends a stream: an empty RR, an SDES with
/// the CNAME and a BYE for `ssrc`. Returns its length in bytes.
///
/// RFC 3550 §6.1 wants every compound packet to start with a report; an
/// empty RR is the one that needs no sender state, and the last SR has
/// already told the counts. ffmpeg's `rtcp_parse_packet` stops at a BYE
/// wherever it is in the compound; GStreamer's rtpsession handles BYE in
/// any position too.
///
/// # Errors
///
/// As [`write_sender_report`].
pub fn write_bye(out: &mut [u8], ssrc: u32, cname: &str) -> Result<usize, RtcpError> {
    let needed_bytes = EMPTY_RR_LEN + sdes_len(cname)? + BYE_LEN;
    let out = out
        .get_mut(..needed_bytes)
        .ok_or(RtcpError::BufferTooSmall { needed_bytes })?;
    let mut w = Writer { out, pos: 0 };
    w.header(0, PT_RR, EMPTY_RR_LEN);
    w.put(&ssrc.to_be_bytes());
    w.sdes(ssrc, cname);
    w.header(1, PT_BYE, BYE_LEN);
    w.put(&ssrc.to_be_bytes());
    Ok(w.pos)
}

/// Bytes of an SDES packet with one chunk holding only `cname`: header,
/// SSRC, item type and length, text, then a null end-of-list item and
/// padding to the next 32-bit boundary (RFC 3550 §6.5: at least one null).
fn sdes_len(cname: &str) -> Result<usize, RtcpError> {
    let len_bytes = cname.len();
    if len_bytes > MAX_CNAME_LEN {
        return Err(RtcpError::CnameTooLong { len_bytes });
    }
    Ok(8 + (2 + len_bytes + 1).next_multiple_of(4))
}

/// Writes into a buffer sized exactly by the caller beforehand.
struct Writer<'b> {
    out: &'b mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, src: &[u8]) {
        let end = self.pos + src.len();
        if let Some(dst) = self.out.get_mut(self.pos..end) {
            dst.copy_from_slice(src);
        }
        self.pos = end;
    }

    /// The common header: version 2, no padding, `count`, `pt`, and the
    /// length in 32-bit words minus one of a packet of `len_bytes`.
    fn header(&mut self, count: u8, pt: u8, len_bytes: usize) {
        let words = u16::try_from(len_bytes / 4 - 1).unwrap_or(u16::MAX);
        let l = words.to_be_bytes();
        self.put(&[0x80 | (count & 0x1f), pt, l[0], l[1]]);
    }

    fn sdes(&mut self, ssrc: u32, cname: &str) {
        let len_bytes = 8 + (2 + cname.len() + 1).next_multiple_of(4);
        let end = self.pos + len_bytes;
        self.header(1, PT_SDES, len_bytes);
        self.put(&ssrc.to_be_bytes());
        self.put(&[SDES_CNAME, u8::try_from(cname.len()).unwrap_or(u8::MAX)]);
        self.put(cname.as_bytes());
        while self.pos < end {
            self.put(&[0]);
        }
    }
}

/// What a received compound RTCP packet contained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RtcpSummary {
    /// SSRC of the first packet's sender (the client's SSRC for an RR).
    pub sender_ssrc: Option<u32>,
    /// It held a sender report.
    pub has_sr: bool,
    /// It held a receiver report: the client is alive.
    pub has_rr: bool,
    /// It held an SDES.
    pub has_sdes: bool,
    /// It held a goodbye: the client is leaving.
    pub has_bye: bool,
    /// Number of RTCP packets in the compound.
    pub packet_count: u16,
}

/// Validates a received compound RTCP packet (RFC 3550 §6.1 and the checks
/// of appendix A.2) and says what it held.
///
/// Checked: every packet is version 2; each length field stays inside the
/// buffer and the lengths add up to exactly the buffer; only the last packet
/// may be padded, by a count that fits it; SR, RR and BYE are long enough
/// for the report blocks and SSRCs they claim. Not required: that the first
/// packet is SR or RR, since reduced-size RTCP (RFC 5506) clients send
/// lone packets; callers see it in the summary.
///
/// # Errors
///
/// [`RtcpError::Invalid`] with the offset of the first bad RTCP packet.
pub fn parse_compound(buf: &[u8]) -> Result<RtcpSummary, RtcpError> {
    let mut summary = RtcpSummary::default();
    let mut offset = 0;
    if buf.is_empty() {
        return Err(RtcpError::Invalid {
            offset,
            reason: "empty",
        });
    }
    while offset < buf.len() {
        let invalid = |reason| RtcpError::Invalid { offset, reason };
        let rest = buf.get(offset..).ok_or(invalid("offset past end"))?;
        let &[b0, pt, l0, l1, ..] = rest else {
            return Err(invalid("truncated header"));
        };
        if b0 >> 6 != 2 {
            return Err(invalid("version is not 2"));
        }
        let len_bytes = (usize::from(u16::from_be_bytes([l0, l1])) + 1) * 4;
        let packet = rest.get(..len_bytes).ok_or(invalid("length past end"))?;
        let is_last = len_bytes == rest.len();
        let mut body_len = len_bytes - 4;
        if b0 & 0x20 != 0 {
            if !is_last {
                return Err(invalid("padding before the last packet"));
            }
            let pad = usize::from(*packet.last().ok_or(invalid("empty"))?);
            if pad == 0 || pad > body_len {
                return Err(invalid("bad padding count"));
            }
            body_len -= pad;
        }
        let count = usize::from(b0 & 0x1f);
        let body = packet
            .get(4..4 + body_len)
            .ok_or(invalid("length past end"))?;
        let min_body = match pt {
            PT_SR => 24 + count * REPORT_BLOCK_LEN,
            PT_RR => 4 + count * REPORT_BLOCK_LEN,
            PT_BYE => count * 4,
            _ => 0,
        };
        if body.len() < min_body {
            return Err(invalid("shorter than its count says"));
        }
        if summary.packet_count == 0
            && let Some(&[s0, s1, s2, s3]) = body.first_chunk::<4>()
        {
            summary.sender_ssrc = Some(u32::from_be_bytes([s0, s1, s2, s3]));
        }
        match pt {
            PT_SR => summary.has_sr = true,
            PT_RR => summary.has_rr = true,
            PT_SDES => summary.has_sdes = true,
            PT_BYE => summary.has_bye = true,
            _ => {}
        }
        summary.packet_count = summary.packet_count.saturating_add(1);
        offset += len_bytes;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_report_bytes() {
        let mut out = [0xffu8; 64];
        let n = write_sender_report(
            &mut out,
            0x0102_0304,
            0x83aa_7e81_8000_0000,
            0x0000_1000,
            5,
            6000,
            "ctrtspd",
        )
        .unwrap();
        let expected: [u8; 48] = [
            0x80, 200, 0, 6, // SR, 7 words
            1, 2, 3, 4, // SSRC
            0x83, 0xaa, 0x7e, 0x81, 0x80, 0, 0, 0, // NTP
            0, 0, 0x10, 0, // RTP ts
            0, 0, 0, 5, // packets
            0, 0, 0x17, 0x70, // octets
            0x81, 202, 0, 4, // SDES, 1 chunk, 5 words
            1, 2, 3, 4, // SSRC
            1, 7, b'c', b't', b'r', b't', b's', b'p', b'd', 0, 0, 0, // CNAME, null, pad
        ];
        assert_eq!(&out[..n], &expected);
        let s = parse_compound(&out[..n]).unwrap();
        assert!(s.has_sr && s.has_sdes && !s.has_bye && !s.has_rr);
        assert_eq!(s.sender_ssrc, Some(0x0102_0304));
        assert_eq!(s.packet_count, 2);
    }

    #[test]
    fn cname_padding_always_has_a_null() {
        for len in 0..=9 {
            let cname = &"abcdefghi"[..len];
            let mut out = [0u8; 64];
            let n = write_sender_report(&mut out, 1, 0, 0, 0, 0, cname).unwrap();
            assert_eq!(n % 4, 0);
            assert_eq!(out[28 + 9], len as u8);
            assert_eq!(out[28 + 10 + len], 0, "len {len}");
            parse_compound(&out[..n]).unwrap();
        }
    }

    #[test]
    fn bye_bytes_and_parse_back() {
        let mut out = [0u8; 64];
        let n = write_bye(&mut out, 0xaabb_ccdd, "nvr").unwrap();
        let expected: [u8; 28] = [
            0x80, 201, 0, 1, 0xaa, 0xbb, 0xcc, 0xdd, // empty RR
            0x81, 202, 0, 3, 0xaa, 0xbb, 0xcc, 0xdd, 1, 3, b'n', b'v', b'r', 0, 0,
            0, // SDES, 4 words
            0x81, 203, 0, 1, // BYE header
        ];
        assert_eq!(&out[..28], &expected);
        assert_eq!(&out[28..n], &[0xaa, 0xbb, 0xcc, 0xdd]);
        let s = parse_compound(&out[..n]).unwrap();
        assert!(s.has_bye && s.has_rr && s.has_sdes && !s.has_sr);
        assert_eq!(s.packet_count, 3);
    }

    #[test]
    fn small_buffer_and_long_cname() {
        let mut out = [0u8; 40];
        assert_eq!(
            write_sender_report(&mut out, 1, 0, 0, 0, 0, "ctrtspd"),
            Err(RtcpError::BufferTooSmall { needed_bytes: 48 })
        );
        let long = "x".repeat(256);
        assert_eq!(
            write_bye(&mut [0u8; 400], 1, &long),
            Err(RtcpError::CnameTooLong { len_bytes: 256 })
        );
        let max = "x".repeat(255);
        let mut big = [0u8; 400];
        let n = write_bye(&mut big, 1, &max).unwrap();
        parse_compound(&big[..n]).unwrap();
    }

    #[test]
    fn rejects_malformed() {
        let mut out = [0u8; 64];
        let n = write_bye(&mut out, 1, "a").unwrap();
        let good = &out[..n];
        let mut bad = good.to_vec();
        bad[8] = 0x41; // SDES version 1
        assert_eq!(
            parse_compound(&bad),
            Err(RtcpError::Invalid {
                offset: 8,
                reason: "version is not 2"
            })
        );
        let mut bad = good.to_vec();
        bad.push(0);
        assert!(parse_compound(&bad).is_err(), "trailing byte");
        let mut bad = good.to_vec();
        bad[0] |= 0x20; // padding on the first packet
        assert!(parse_compound(&bad).is_err());
        let mut bad = good.to_vec();
        bad[0] |= 0x01; // RR claims a report block it lacks
        assert!(parse_compound(&bad).is_err());
        assert!(parse_compound(&[]).is_err());
    }

    /// An RR with one report block and padding, as a client might send.
    #[test]
    fn receiver_report_with_block_and_padding() {
        let mut rr = vec![0xa1, 201, 0, 8, 0, 0, 0, 9];
        rr.extend([0u8; 24]);
        rr.extend([0, 0, 0, 4]);
        let s = parse_compound(&rr).unwrap();
        assert!(s.has_rr);
        assert_eq!(s.sender_ssrc, Some(9));
    }

    #[test]
    fn never_panics_on_truncation_or_mutation() {
        let mut out = [0u8; 128];
        let n = write_sender_report(&mut out, 7, 1, 2, 3, 4, "camtrace-nvr").unwrap();
        let m = write_bye(&mut out[n..], 7, "camtrace-nvr").unwrap();
        let good = out[..n + m].to_vec();
        assert!(parse_compound(&good).unwrap().has_bye);
        for len in 0..good.len() {
            // Every strict prefix is either a shorter valid compound at a
            // packet boundary or an error; never a panic.
            let _ = parse_compound(&good[..len]);
        }
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let mut buf = good.clone();
            for _ in 0..(next() % 4 + 1) {
                let i = (next() % buf.len() as u64) as usize;
                buf[i] = next() as u8;
            }
            let cut = (next() % (buf.len() as u64 + 1)) as usize;
            let _ = parse_compound(&buf[..cut]);
            let _ = parse_compound(&buf);
        }
    }
}
