//! Annex B byte streams: NAL units separated by `00 00 01` start codes.

/// Iterator over the NAL units of an Annex B byte stream; see [`nal_units`].
#[derive(Clone, Debug)]
pub struct NalUnits<'a> {
    data: &'a [u8],
    /// Offset of the next NAL unit (just after its start code), if any.
    next_start: Option<usize>,
}

/// The NAL units of `data` as `(offset_bytes, nal)`, `nal` without its start
/// code and with trailing zero bytes trimmed (they belong to the next 4-byte
/// start code or are `trailing_zero_8bits`); empty NAL units are skipped.
///
/// `offset_bytes` is the offset of the NAL header byte in `data`. Bytes before
/// the first start code are ignored.
pub fn nal_units(data: &[u8]) -> NalUnits<'_> {
    NalUnits {
        data,
        next_start: find_start_code(data, 0),
    }
}

impl<'a> Iterator for NalUnits<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let start = self.next_start?;
            self.next_start = find_start_code(self.data, start);
            let end = self.next_start.map_or(self.data.len(), |next| next - 3);
            let nal = self.data.get(start..end).unwrap_or_default();
            let trimmed_len = nal.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            let nal = nal.get(..trimmed_len).unwrap_or_default();
            if !nal.is_empty() {
                return Some((start, nal));
            }
        }
    }
}

/// Offset just after the first `00 00 01` that starts at or after `from`.
fn find_start_code(data: &[u8], from: usize) -> Option<usize> {
    // `i` is the candidate position of the `01` byte.
    let mut i = from.checked_add(2)?;
    while let Some(&b) = data.get(i) {
        if b > 1 {
            // No start code can end at i, i + 1 or i + 2: each needs data[i] <= 1.
            i += 3;
        } else if b == 1 && data.get(i - 2..i) == Some(&[0, 0]) {
            return Some(i + 1);
        } else {
            i += 1;
        }
    }
    None
}

/// Whether `data` begins like an Annex B stream: optional zero bytes, then
/// a start code, within the first 64 bytes.
pub fn starts_with_start_code(data: &[u8]) -> bool {
    let zeros = data.iter().take(64).take_while(|&&b| b == 0).count();
    (2..64).contains(&zeros) && data.get(zeros) == Some(&1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_and_four_byte_start_codes() {
        let data = [
            0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 0, 1, 0x65, 0x88, 0x00,
        ];
        let nals: Vec<_> = nal_units(&data).collect();
        assert_eq!(
            nals,
            vec![
                (4, &[0x67, 0x42][..]),
                (9, &[0x68, 0xce][..]),
                (16, &[0x65, 0x88][..]),
            ]
        );
    }

    #[test]
    fn empty_nals_and_garbage_skipped() {
        let data = [0xff, 0xee, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0x09, 0xf0];
        let nals: Vec<_> = nal_units(&data).collect();
        assert_eq!(nals, vec![(12, &[0x09, 0xf0][..])]);
        assert_eq!(nal_units(&[]).count(), 0);
        assert_eq!(nal_units(&[0, 0, 1]).count(), 0);
        assert_eq!(nal_units(&[1, 0, 0]).count(), 0);
    }

    #[test]
    fn start_code_detection() {
        assert!(starts_with_start_code(&[0, 0, 1, 0x67]));
        assert!(starts_with_start_code(&[0, 0, 0, 1, 0x67]));
        assert!(!starts_with_start_code(&[0, 1, 0x67]));
        assert!(!starts_with_start_code(&[]));
        assert!(!starts_with_start_code(&[0, 0, 0]));
        assert!(!starts_with_start_code(b"\0\0\0\x20ftypisom"));
    }
}
