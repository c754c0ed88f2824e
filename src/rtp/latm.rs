//! AAC over RTP in LATM, RFC 3016 `MP4A-LATM` with `cpresent=0` (the
//! configuration, a `StreamMuxConfig`, in the SDP): each packet holds one
//! or more `audioMuxElement`s of one access unit each (`numSubFrames` 0),
//! each a `PayloadLengthInfo` (bytes of 255 then a last byte under 255,
//! summed) and the unit; an element too big for a packet is fragmented,
//! the marker bit on its last fragment. The receiving side only (the
//! recorder stores the raw units, as for RFC 3640).

use super::aac::MAX_AU_BYTES;
use super::audio::AudioRtpError;
use crate::codec::audio::AAC_SAMPLES_PER_FRAME;

/// Reassembles and splits LATM payloads into access units. The buffer is
/// allocated once, at creation.
#[derive(Debug)]
pub struct LatmDepacketizer {
    /// The payloads of one RTP timestamp so far (capacity [`MAX_BYTES`]).
    buf: Vec<u8>,
    ts: Option<u32>,
}

/// The most bytes one timestamp's payloads may hold.
pub const MAX_BYTES: usize = 4 * MAX_AU_BYTES;

impl Default for LatmDepacketizer {
    fn default() -> Self {
        Self::new()
    }
}

impl LatmDepacketizer {
    /// A depacketizer; allocates its buffer.
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(MAX_BYTES),
            ts: None,
        }
    }

    /// Reads one RTP payload with timestamp `ts` and marker bit `marker`;
    /// each access unit is passed to `emit(ts, unit)`, the `i`-th of a
    /// packet at `ts + i * 1024`. After an error (or a lost fragment: call
    /// [`Self::reset`] on a sequence gap) the partial element is dropped.
    pub fn push(
        &mut self,
        ts: u32,
        marker: bool,
        payload: &[u8],
        mut emit: impl FnMut(u32, &[u8]),
    ) -> Result<(), AudioRtpError> {
        if self.ts.is_some_and(|t| t != ts) {
            // The last fragment (with the marker) of the element was lost.
            self.reset();
            return Err(AudioRtpError::BadFragment);
        }
        if self.buf.len() + payload.len() > MAX_BYTES {
            self.reset();
            return Err(AudioRtpError::BadFragment);
        }
        self.buf.extend_from_slice(payload);
        self.ts = Some(ts);
        if !marker {
            return Ok(());
        }
        let mut rest: &[u8] = &self.buf;
        let mut ts_i = ts;
        let mut result = Ok(());
        while !rest.is_empty() {
            let Some((n, unit)) = payload_length(rest)
                .and_then(|(n, len)| Some((n, rest.get(n..n.checked_add(len)?)?)))
            else {
                result = Err(AudioRtpError::Truncated);
                break;
            };
            if !unit.is_empty() {
                emit(ts_i, unit);
            }
            rest = rest.get(n + unit.len()..).unwrap_or(&[]);
            ts_i = ts_i.wrapping_add(AAC_SAMPLES_PER_FRAME);
        }
        self.reset();
        result
    }

    /// Drops a partial element (call on a lost packet).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.ts = None;
    }
}

/// A `PayloadLengthInfo`: its length in bytes and the length it gives.
fn payload_length(b: &[u8]) -> Option<(usize, usize)> {
    let mut len = 0usize;
    for (i, &x) in b.iter().enumerate() {
        len += usize::from(x);
        if x != 255 {
            return Some((i + 1, len));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::audio::parse_adts;

    const ADTS: &[u8] = include_bytes!("../../tests/fixtures/ffmpeg_sine1k_16k_mono_500ms.aac");

    /// Raw units of ffmpeg's AAC, LATM-framed: one per packet, two in one
    /// packet, one over 255 bytes, one fragmented over three packets.
    #[test]
    fn units_whole_grouped_and_fragmented() {
        let mut units = Vec::new();
        let mut rest = ADTS;
        while let Ok(f) = parse_adts(rest) {
            units.push(f.payload.to_vec());
            rest = &rest[f.frame_len_bytes..];
        }
        assert!(units.len() >= 6, "{}", units.len());
        let framed = |u: &[u8]| {
            let mut v = vec![255u8; u.len() / 255];
            v.push((u.len() % 255) as u8);
            v.extend_from_slice(u);
            v
        };
        let mut d = LatmDepacketizer::new();
        let mut got: Vec<(u32, Vec<u8>)> = Vec::new();
        d.push(1000, true, &framed(&units[0]), |t, u| {
            got.push((t, u.to_vec()))
        })
        .unwrap();
        let two = [framed(&units[1]), framed(&units[2])].concat();
        d.push(2024, true, &two, |t, u| got.push((t, u.to_vec())))
            .unwrap();
        let big: Vec<u8> = units[3].iter().chain(&units[4]).copied().collect();
        assert!(big.len() > 255);
        let f = framed(&big);
        let (a, b) = f.split_at(f.len() / 3);
        let (b, c) = b.split_at(b.len() / 2);
        for (part, marker) in [(a, false), (b, false), (c, true)] {
            d.push(4072, marker, part, |t, u| got.push((t, u.to_vec())))
                .unwrap();
        }
        assert_eq!(
            got,
            [
                (1000, units[0].clone()),
                (2024, units[1].clone()),
                (3048, units[2].clone()),
                (4072, big.clone())
            ]
        );
        // A fragment whose end was lost, then a truncated element: errors,
        // nothing emitted, the next one whole again.
        d.push(5096, false, a, |_, _| panic!()).unwrap();
        assert_eq!(
            d.push(6120, true, &framed(&units[5]), |_, _| panic!()),
            Err(AudioRtpError::BadFragment)
        );
        let f = framed(&units[5]);
        assert_eq!(
            d.push(7144, true, &f[..f.len() - 1], |_, _| panic!()),
            Err(AudioRtpError::Truncated)
        );
        let mut n = 0;
        d.push(8168, true, &f, |_, _| n += 1).unwrap();
        assert_eq!(n, 1);
        assert_eq!(
            d.push(9192, true, &[255, 255], |_, _| panic!()),
            Err(AudioRtpError::Truncated)
        );
    }
}
