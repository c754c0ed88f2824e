//! H.264 RTP payload format (RFC 6184): the bits of the NAL unit header and
//! of FU-A that the packetizer and depacketizer need.
//!
//! We send single NAL unit packets and FU-A (non-interleaved mode,
//! `packetization-mode=1`). STAP-A aggregation is not sent: it would save a
//! few packets per keyframe (SPS/PPS) at the cost of copying small NALs into
//! a buffer, which the zero-copy path avoids. The depacketizer (tests) reads it.

/// Bytes of the H.264 NAL unit header (F, NRI, type).
pub const NAL_HEADER_LEN: usize = 1;

/// Bytes of the FU-A prefix: FU indicator and FU header.
pub const FU_PREFIX_LEN: u8 = 2;

/// NAL unit type of a STAP-A aggregation packet (RFC 6184 §5.7.1).
pub const STAP_A: u8 = 24;

/// NAL unit type of a FU-A fragmentation unit (RFC 6184 §5.8).
pub const FU_A: u8 = 28;

/// The NAL unit type (5 bits) of a NAL unit header byte.
pub const fn nal_type(header: u8) -> u8 {
    header & 0x1f
}

/// The FU-A prefix for fragments of a NAL with header byte `header`, S and E
/// bits clear: the indicator keeps F and NRI (RFC 6184 §5.8: "the value of
/// NRI MUST be set according to the value of the NRI field in the
/// fragmented NAL unit"), the FU header carries the original type.
pub const fn fu_prefix(header: u8) -> [u8; 3] {
    [(header & 0xe0) | FU_A, nal_type(header), 0]
}

/// The NAL unit header byte rebuilt from a FU indicator and FU header.
pub const fn nal_header_from_fu(indicator: u8, fu_header: u8) -> u8 {
    (indicator & 0xe0) | nal_type(fu_header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fu_a_copies_f_and_nri() {
        // IDR slice, NRI 3: indicator 0x7c, FU header type 5.
        assert_eq!(fu_prefix(0x65), [0x7c, 0x05, 0]);
        // Non-reference slice with F set: NRI 0, F kept.
        assert_eq!(fu_prefix(0x81), [0x9c, 0x01, 0]);
        assert_eq!(nal_header_from_fu(0x7c, 0x85), 0x65);
        assert_eq!(nal_header_from_fu(0x9c, 0x41), 0x81);
    }
}
