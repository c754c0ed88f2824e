//! H.265 RTP payload format (RFC 7798): the bits of the NAL unit header and
//! of FU that the packetizer and depacketizer need.
//!
//! We send single NAL unit packets and FUs, without DONL (we never announce
//! `sprop-max-don-diff`, so none is sent, RFC 7798 §4.4.3). Aggregation
//! packets (AP) are not sent for the same zero-copy reason as STAP-A in
//! [`super::h264`]; the depacketizer (tests) reads them.

/// Bytes of the H.265 NAL unit header (F, type, LayerId, TID).
pub const NAL_HEADER_LEN: usize = 2;

/// Bytes of the FU prefix: PayloadHdr (2) and FU header (1).
pub const FU_PREFIX_LEN: u8 = 3;

/// NAL unit type of an aggregation packet (RFC 7798 §4.4.2).
pub const AP: u8 = 48;

/// NAL unit type of a fragmentation unit (RFC 7798 §4.4.3).
pub const FU: u8 = 49;

/// The NAL unit type (6 bits) from the first NAL unit header byte.
pub const fn nal_type(header0: u8) -> u8 {
    (header0 >> 1) & 0x3f
}

/// The FU prefix for fragments of a NAL with header `[h0, h1]`, S and E bits
/// clear: the PayloadHdr keeps F, LayerId and TID and has type 49
/// (RFC 7798 §4.4.3), the FU header carries the original type.
pub const fn fu_prefix(h0: u8, h1: u8) -> [u8; 3] {
    [(h0 & 0x81) | (FU << 1), h1, nal_type(h0)]
}

/// The NAL unit header rebuilt from a PayloadHdr and FU header.
pub const fn nal_header_from_fu(p0: u8, p1: u8, fu_header: u8) -> [u8; 2] {
    [(p0 & 0x81) | ((fu_header & 0x3f) << 1), p1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fu_copies_layer_id_and_tid() {
        // IDR_W_RADL (19), LayerId 0, TID 1: PayloadHdr 0x6201, FU type 19.
        assert_eq!(fu_prefix(0x26, 0x01), [0x62, 0x01, 19]);
        // LayerId 0b100001 (MSB in h0, low bits in h1), TID 3, F set.
        assert_eq!(fu_prefix(0xa7, 0x0b), [0xe3, 0x0b, 19]);
        assert_eq!(nal_header_from_fu(0xe3, 0x0b, 0x40 | 19), [0xa7, 0x0b]);
    }
}
