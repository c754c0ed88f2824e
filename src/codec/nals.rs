//! Stored frames: NAL units each prefixed by their length as a u32 little-endian.
//!
//! The store keeps frames this way (not Annex B) so that the packetizer finds
//! NAL boundaries without scanning for start codes, and can send each NAL as a
//! slice of the map. Reading is on the hot path: no allocation, no panic on
//! torn or garbage bytes.

use super::CodecError;

/// Bytes of the length prefix before each NAL unit.
pub const LENGTH_PREFIX_BYTES: usize = 4;
static_assertions::const_assert_eq!(LENGTH_PREFIX_BYTES, core::mem::size_of::<u32>());

/// Appends `nals` to `out`, each prefixed by its length (u32 little-endian).
///
/// Import side. Fails without writing anything if a NAL unit is empty or does
/// not fit the prefix.
pub fn write_length_prefixed(out: &mut Vec<u8>, nals: &[&[u8]]) -> Result<(), CodecError> {
    let mut total_bytes = 0usize;
    for nal in nals {
        if nal.is_empty() {
            return Err(CodecError::EmptyNal {
                offset_bytes: out.len() + total_bytes,
            });
        }
        if u32::try_from(nal.len()).is_err() {
            return Err(CodecError::NalTooLarge {
                len_bytes: nal.len(),
            });
        }
        total_bytes = total_bytes.saturating_add(LENGTH_PREFIX_BYTES + nal.len());
    }
    out.reserve(total_bytes);
    for nal in nals {
        // Checked above.
        let len = u32::try_from(nal.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(nal);
    }
    Ok(())
}

/// The NAL units of a stored frame; see [`LengthPrefixed::new`].
#[derive(Clone, Debug)]
pub struct LengthPrefixed<'a> {
    frame: &'a [u8],
    /// Offset of the next length prefix in `frame`.
    pos: usize,
    done: bool,
}

// Per-frame state on the hot path: a slice, an offset and a flag.
static_assertions::assert_eq_size!(LengthPrefixed<'static>, [usize; 4]);

impl<'a> LengthPrefixed<'a> {
    /// Iterates over the NAL units of `frame`, a buffer written by
    /// [`write_length_prefixed`] (or torn garbage).
    ///
    /// A prefix cut short, or a length past the end of `frame`, yields one
    /// [`CodecError::Truncated`]; a zero length one [`CodecError::EmptyNal`];
    /// the iterator then ends.
    pub fn new(frame: &'a [u8]) -> Self {
        Self {
            frame,
            pos: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for LengthPrefixed<'a> {
    type Item = Result<&'a [u8], CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.frame.len() {
            return None;
        }
        let offset_bytes = self.pos;
        let item = self.read_one(offset_bytes);
        if item.is_err() {
            self.done = true;
        }
        Some(item)
    }
}

impl<'a> LengthPrefixed<'a> {
    fn read_one(&mut self, offset_bytes: usize) -> Result<&'a [u8], CodecError> {
        let truncated = CodecError::Truncated { offset_bytes };
        let prefix_end = offset_bytes
            .checked_add(LENGTH_PREFIX_BYTES)
            .ok_or(truncated)?;
        let prefix: [u8; LENGTH_PREFIX_BYTES] = self
            .frame
            .get(offset_bytes..prefix_end)
            .and_then(|p| p.try_into().ok())
            .ok_or(truncated)?;
        let len_bytes = usize::try_from(u32::from_le_bytes(prefix)).map_err(|_| truncated)?;
        if len_bytes == 0 {
            return Err(CodecError::EmptyNal { offset_bytes });
        }
        let nal_end = prefix_end.checked_add(len_bytes).ok_or(truncated)?;
        let nal = self.frame.get(prefix_end..nal_end).ok_or(truncated)?;
        self.pos = nal_end;
        Ok(nal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{AccessUnits, Codec};

    const H264: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_testsrc_h264_gop25.264");

    #[test]
    fn round_trip_of_fixture_frames() {
        for au in AccessUnits::new(Codec::H264, H264).take(30) {
            let au = au.unwrap();
            let mut frame = vec![0xaa];
            write_length_prefixed(&mut frame, &au.nals).unwrap();
            let back: Vec<&[u8]> = LengthPrefixed::new(&frame[1..])
                .map(Result::unwrap)
                .collect();
            assert_eq!(back, au.nals);
            assert_eq!(frame[0], 0xaa, "appends, keeps what was there");
        }
    }

    #[test]
    fn layout_is_u32_le_then_bytes() {
        let mut out = Vec::new();
        write_length_prefixed(&mut out, &[&[0x65, 1, 2], &[0x06]]).unwrap();
        assert_eq!(out, [3, 0, 0, 0, 0x65, 1, 2, 1, 0, 0, 0, 0x06]);
        assert_eq!(
            write_length_prefixed(&mut out, &[&[1], &[]]),
            Err(CodecError::EmptyNal { offset_bytes: 17 })
        );
        assert_eq!(out.len(), 12, "nothing written on error");
    }

    #[test]
    fn every_truncation_is_safe() {
        let au = AccessUnits::new(Codec::H264, H264).next().unwrap().unwrap();
        let mut frame = Vec::new();
        write_length_prefixed(&mut frame, &au.nals).unwrap();
        let whole = LengthPrefixed::new(&frame).count();
        for len in 0..frame.len() {
            let items: Vec<_> = LengthPrefixed::new(&frame[..len]).collect();
            assert!(items.len() <= whole);
            // Only the last item may be an error, and a cut inside a NAL is one.
            assert!(items.iter().rev().skip(1).all(Result::is_ok));
            if len > 0 {
                assert!(matches!(
                    items.last(),
                    Some(Err(CodecError::Truncated { .. })) | Some(Ok(_))
                ));
            }
        }
        // Cut in the middle of the second NAL: one error at its prefix, then the end.
        let first_len = 4 + au.nals[0].len();
        let mut it = LengthPrefixed::new(&frame[..first_len + 6]);
        assert_eq!(it.next(), Some(Ok(au.nals[0])));
        assert_eq!(
            it.next(),
            Some(Err(CodecError::Truncated {
                offset_bytes: first_len
            }))
        );
        assert_eq!(it.next(), None);
    }

    #[test]
    fn garbage_is_safe() {
        let cases: [&[u8]; 5] = [
            &[0xff, 0xff, 0xff, 0xff, 1],
            &[0, 0, 0, 0, 1, 2],
            &[1, 0, 0],
            &[2, 0, 0, 0, 9],
            &[1, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0x7f],
        ];
        for data in cases {
            let items: Vec<_> = LengthPrefixed::new(data).collect();
            assert!(items.last().unwrap().is_err(), "{data:?}");
        }
        assert_eq!(
            LengthPrefixed::new(&[0, 0, 0, 0]).next(),
            Some(Err(CodecError::EmptyNal { offset_bytes: 0 }))
        );
    }
}
