//! Interleaved binary data on the RTSP connection (RFC 2326 §10.12):
//! `$`, channel, big-endian u16 length, payload. Clients send RTCP receiver
//! reports this way on TCP, between their requests.

use super::request::ParseError;

/// One interleaved frame, borrowing its payload from the receive buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interleaved<'a> {
    /// The channel number (odd channels carry RTCP by convention).
    pub channel: u8,
    /// The payload (an RTP or RTCP packet).
    pub payload: &'a [u8],
}

impl Interleaved<'_> {
    /// Size of the 4-byte `$` prefix.
    pub const PREFIX_LEN_BYTES: usize = 4;

    /// How many bytes of the buffer this frame took: prefix plus payload.
    pub fn frame_len_bytes(&self) -> usize {
        Self::PREFIX_LEN_BYTES + self.payload.len()
    }
}

/// Parses an interleaved frame at the start of `buf`.
///
/// `Ok(None)` if `buf` does not start with `$` (it is a request, or empty);
/// `Err(Incomplete)` if it does but the frame is not all there yet.
pub fn parse_interleaved(buf: &[u8]) -> Result<Option<Interleaved<'_>>, ParseError> {
    match buf.first() {
        Some(b'$') => {}
        _ => return Ok(None),
    }
    let (Some(&channel), Some(&hi), Some(&lo)) = (buf.get(1), buf.get(2), buf.get(3)) else {
        return Err(ParseError::Incomplete);
    };
    let len_bytes = usize::from(u16::from_be_bytes([hi, lo]));
    let payload = buf
        .get(Interleaved::PREFIX_LEN_BYTES..Interleaved::PREFIX_LEN_BYTES + len_bytes)
        .ok_or(ParseError::Incomplete)?;
    Ok(Some(Interleaved { channel, payload }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GStreamer 1.22 RTCP receiver report + SDES, sent on channel 1.
    const GST_RTCP: &[u8] = include_bytes!("../../tests/fixtures/gstreamer_rtcp_interleaved.bin");

    #[test]
    fn gstreamer_rtcp_receiver_report() {
        let frame = parse_interleaved(GST_RTCP).unwrap().unwrap();
        assert_eq!(frame.channel, 1);
        assert_eq!(frame.payload.len(), 84);
        assert_eq!(frame.frame_len_bytes(), GST_RTCP.len());
        // RTCP version 2, packet type 201 (RR).
        assert_eq!(&frame.payload[..2], &[0x81, 0xc9]);
        for len in 1..GST_RTCP.len() {
            assert_eq!(
                parse_interleaved(&GST_RTCP[..len]),
                Err(ParseError::Incomplete)
            );
        }
    }

    #[test]
    fn not_interleaved() {
        assert_eq!(parse_interleaved(b""), Ok(None));
        assert_eq!(parse_interleaved(b"OPTIONS * RTSP/1.0\r\n"), Ok(None));
    }

    #[test]
    fn empty_payload_and_trailing_bytes() {
        let frame = parse_interleaved(b"$\x00\x00\x00PLAY").unwrap().unwrap();
        assert_eq!((frame.channel, frame.payload), (0, &b""[..]));
        assert_eq!(frame.frame_len_bytes(), 4);
    }
}
