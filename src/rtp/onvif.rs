//! The ONVIF replay RTP header extension: the recorded wallclock of each
//! access unit and the replay flags, on the first packet of every frame of
//! a replay session.
//!
//! ONVIF Streaming Specification, replay chapter, "RTP header extension"
//! (§6.3 of 2.x; doc/Streaming.xml of github.com/onvif/specs):
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |            0xABAC             |          length=3             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        NTP timestamp...                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        ...NTP timestamp                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |C|E|D|T|  mbz  |     CSeq      |           padding             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! > NTP timestamp. An NTP [RFC 1305] timestamp indicating the absolute
//! > UTC time associated with the access unit.
//! > C: 1 bit. Indicates that this access unit is a synchronization point
//! > or "clean point", e.g. the start of an intra-coded frame [...].
//! > E: 1 bit. Indicates the end of a contiguous section of recording. The
//! > last access unit in each track before a recording gap, or at the end
//! > of available footage, shall have this bit set. [...]
//! > D: 1 bit. Indicates that this access unit follows a discontinuity in
//! > transmission. [...]
//! > T: 1 bit. Indicates that this is the terminal frame on playback of a
//! > track. [...]
//! > mbz: This field is reserved for future use and must be zero.
//! > Cseq: 1 byte. This is the low-order byte of the Cseq value used in
//! > the RTSP PLAY command that was used to initiate transmission.
//!
//! The writer always writes `length=3` and zero `mbz` and padding. The
//! reader accepts a longer extension (the spec lets the JPEG extension
//! follow the replay one, "indicated by an RTP header extension length
//! field with a value greater than 3") and ignores `mbz` and padding, so
//! that a later revision's bits do not make a recording unreadable.
//!
//! What GStreamer makes of it (gst-plugins-bad `rtponvifparse`, checked by
//! `tests/onvif_gstreamer.rs`): the buffer PTS becomes the NTP time in
//! nanoseconds since 1900, C clears `DELTA_UNIT`, D sets `DISCONT`, T ends
//! the stream (EOS after that buffer); E and CSeq are not used.

use static_assertions::const_assert_eq;

use super::ntp::{ntp_to_unix_us, unix_us_to_ntp};

/// The "defined by profile" value of the ONVIF replay extension.
pub const ONVIF_REPLAY_PROFILE: u16 = 0xABAC;

/// The extension's length field: data words after the 4-byte extension header.
pub const ONVIF_EXT_WORDS: u16 = 3;

/// Bytes of the extension data (NTP, flags, CSeq, padding).
pub const ONVIF_EXT_DATA_LEN: usize = 12;

/// Bytes of the extension on the wire: the 4-byte extension header
/// (profile, length) plus the data.
pub const ONVIF_EXT_LEN: usize = 16;

const_assert_eq!(ONVIF_EXT_DATA_LEN, 4 * ONVIF_EXT_WORDS as usize);
const_assert_eq!(ONVIF_EXT_LEN, 4 + ONVIF_EXT_DATA_LEN);
// Small and `Copy`: one per frame in flight, never on the heap.
const_assert_eq!(core::mem::size_of::<OnvifReplayExt>(), 16);

/// C: the access unit is a clean point (a decoder can start there).
pub const FLAG_CLEAN_POINT: u8 = 0x80;
/// E: the last access unit of a contiguous section of the recording.
pub const FLAG_END_OF_SECTION: u8 = 0x40;
/// D: the access unit follows a discontinuity in transmission.
pub const FLAG_DISCONTINUITY: u8 = 0x20;
/// T: the terminal frame of the track's playback.
pub const FLAG_TERMINAL: u8 = 0x10;
/// The four reserved (must be zero) bits of the flags byte.
pub const FLAGS_MBZ: u8 = 0x0f;

/// The ONVIF replay header extension of one access unit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OnvifReplayExt {
    /// Recorded wallclock of the access unit, NTP 64-bit format (see
    /// [`super::ntp`] and [`Self::at_unix_us`]).
    pub ntp: u64,
    /// C: a clean point (keyframe).
    pub clean_point: bool,
    /// E: last access unit before a gap in the recording or at the end of
    /// the available footage (not while following a live recording).
    pub end_of_section: bool,
    /// D: first access unit after a discontinuity in transmission (a gap,
    /// a seek, an `Immediate` PLAY, each GOP in reverse).
    pub discontinuity: bool,
    /// T: the terminal frame: no more data for this track.
    pub terminal: bool,
    /// Low byte of the CSeq of the PLAY that started this transmission.
    pub cseq: u8,
}

/// Why an extension could not be read or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnvifExtError {
    /// The caller's buffer is shorter than [`ONVIF_EXT_LEN`].
    BufferTooSmall {
        /// Bytes offered.
        len_bytes: usize,
    },
    /// The input ends before byte `offset` of what the header announces.
    Truncated {
        /// Offset (from the extension header) of the first missing byte.
        offset: usize,
    },
    /// Another extension profile (at byte 0).
    OtherProfile {
        /// The "defined by profile" field found.
        profile: u16,
    },
    /// The length field (at byte 2) is below 3 words.
    TooShort {
        /// The length field found, in 32-bit words.
        words: u16,
    },
}

impl core::fmt::Display for OnvifExtError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::BufferTooSmall { len_bytes } => write!(
                f,
                "ONVIF replay extension needs {ONVIF_EXT_LEN} bytes, buffer has {len_bytes}"
            ),
            Self::Truncated { offset } => write!(
                f,
                "invalid ONVIF replay extension at byte {offset}: input ends there"
            ),
            Self::OtherProfile { profile } => write!(
                f,
                "invalid ONVIF replay extension at byte 0: profile {profile:#06x} is not 0xabac"
            ),
            Self::TooShort { words } => write!(
                f,
                "invalid ONVIF replay extension at byte 2: length {words} is below 3 words"
            ),
        }
    }
}

impl OnvifReplayExt {
    /// An extension for a frame recorded at `unix_us`, flags clear.
    pub fn at_unix_us(unix_us: i64, cseq: u8) -> Self {
        Self {
            ntp: unix_us_to_ntp(unix_us),
            cseq,
            ..Self::default()
        }
    }

    /// The recorded wallclock as Unix microseconds (NTP era 0).
    pub fn unix_us(&self) -> i64 {
        ntp_to_unix_us(self.ntp)
    }

    /// The C/E/D/T byte, `mbz` bits zero.
    pub const fn flags_byte(&self) -> u8 {
        let mut flags = 0;
        if self.clean_point {
            flags |= FLAG_CLEAN_POINT;
        }
        if self.end_of_section {
            flags |= FLAG_END_OF_SECTION;
        }
        if self.discontinuity {
            flags |= FLAG_DISCONTINUITY;
        }
        if self.terminal {
            flags |= FLAG_TERMINAL;
        }
        flags
    }

    /// The extension as it goes on the wire, extension header included.
    pub const fn to_bytes(&self) -> [u8; ONVIF_EXT_LEN] {
        let p = ONVIF_REPLAY_PROFILE.to_be_bytes();
        let w = ONVIF_EXT_WORDS.to_be_bytes();
        let n = self.ntp.to_be_bytes();
        [
            p[0],
            p[1],
            w[0],
            w[1],
            n[0],
            n[1],
            n[2],
            n[3],
            n[4],
            n[5],
            n[6],
            n[7],
            self.flags_byte(),
            self.cseq,
            0,
            0,
        ]
    }

    /// Writes the extension (header included) at the start of `buf`;
    /// returns the bytes written, [`ONVIF_EXT_LEN`].
    ///
    /// # Errors
    ///
    /// [`OnvifExtError::BufferTooSmall`] if `buf` is shorter; nothing is written.
    pub fn write(&self, buf: &mut [u8]) -> Result<usize, OnvifExtError> {
        let len_bytes = buf.len();
        let dst: &mut [u8; ONVIF_EXT_LEN] = buf
            .first_chunk_mut()
            .ok_or(OnvifExtError::BufferTooSmall { len_bytes })?;
        *dst = self.to_bytes();
        Ok(ONVIF_EXT_LEN)
    }

    /// Reads an extension from its wire bytes, starting with the 4-byte
    /// extension header (profile, length). Bytes past the announced length
    /// are not looked at.
    ///
    /// # Errors
    ///
    /// [`OnvifExtError`] for another profile, a length below 3 words, or
    /// input shorter than the length announces.
    pub fn parse(ext: &[u8]) -> Result<Self, OnvifExtError> {
        let header: &[u8; 4] = ext
            .first_chunk()
            .ok_or(OnvifExtError::Truncated { offset: ext.len() })?;
        let [p0, p1, w0, w1] = *header;
        let profile = u16::from_be_bytes([p0, p1]);
        let words = u16::from_be_bytes([w0, w1]);
        let data_len = 4 * usize::from(words);
        let data = ext
            .get(4..4 + data_len)
            .ok_or(OnvifExtError::Truncated { offset: ext.len() })?;
        Self::parse_data(profile, data)
    }

    /// Reads an extension from the "defined by profile" field and the data
    /// that follows the extension header (as [`super::ParsedRtp`] splits
    /// them). `data` may be longer than 12 bytes (a JPEG extension appended).
    ///
    /// # Errors
    ///
    /// [`OnvifExtError`] for another profile or data below 12 bytes (offsets
    /// counted from the extension header).
    pub fn parse_data(profile: u16, data: &[u8]) -> Result<Self, OnvifExtError> {
        if profile != ONVIF_REPLAY_PROFILE {
            return Err(OnvifExtError::OtherProfile { profile });
        }
        let d: &[u8; ONVIF_EXT_DATA_LEN] = data.first_chunk().ok_or(OnvifExtError::TooShort {
            words: u16::try_from(data.len() / 4).unwrap_or(u16::MAX),
        })?;
        let [n0, n1, n2, n3, n4, n5, n6, n7, flags, cseq, _, _] = *d;
        Ok(Self {
            ntp: u64::from_be_bytes([n0, n1, n2, n3, n4, n5, n6, n7]),
            clean_point: flags & FLAG_CLEAN_POINT != 0,
            end_of_section: flags & FLAG_END_OF_SECTION != 0,
            discontinuity: flags & FLAG_DISCONTINUITY != 0,
            terminal: flags & FLAG_TERMINAL != 0,
            cseq,
        })
    }

    /// [`Self::parse_data`] as an `Option`: `None` for another profile or
    /// short data.
    pub fn from_ext(profile: u16, data: &[u8]) -> Option<Self> {
        Self::parse_data(profile, data).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::XorShift;

    /// 2024-02-29T14:00:00.5Z: NTP seconds 3_918_204_000 = 0xe98b_0c60,
    /// fraction 0.5 = 0x8000_0000.
    const T_UNIX_US: i64 = 1_709_215_200_500_000;

    #[test]
    fn bit_layout_from_the_spec() {
        // "C|E|D|T|mbz": C is the top bit of the byte after the NTP time,
        // then E, D, T; the low nibble is mbz; then CSeq; then padding.
        let cases = [
            ((true, false, false, false), 0x80),
            ((false, true, false, false), 0x40),
            ((false, false, true, false), 0x20),
            ((false, false, false, true), 0x10),
            ((true, true, true, true), 0xf0),
            ((false, false, false, false), 0x00),
        ];
        for ((c, e, d, t), byte) in cases {
            let ext = OnvifReplayExt {
                ntp: unix_us_to_ntp(T_UNIX_US),
                clean_point: c,
                end_of_section: e,
                discontinuity: d,
                terminal: t,
                cseq: 0x2a,
            };
            let expected = [
                0xab, 0xac, 0x00, 0x03, // profile, length=3
                0xe9, 0x8b, 0x0c, 0x60, // NTP seconds
                0x80, 0x00, 0x00, 0x00, // NTP fraction
                byte, 0x2a, 0x00, 0x00, // flags, CSeq, padding
            ];
            assert_eq!(ext.to_bytes(), expected, "C={c} E={e} D={d} T={t}");
            assert_eq!(OnvifReplayExt::parse(&expected), Ok(ext));
        }
    }

    #[test]
    fn writes_into_a_callers_buffer_only_when_it_fits() {
        let ext = OnvifReplayExt {
            clean_point: true,
            ..OnvifReplayExt::at_unix_us(T_UNIX_US, 7)
        };
        let mut buf = [0xeeu8; 20];
        assert_eq!(ext.write(&mut buf), Ok(16));
        assert_eq!(&buf[..16], &ext.to_bytes());
        assert_eq!(&buf[16..], &[0xee; 4]);
        let mut short = [0xeeu8; 15];
        assert_eq!(
            ext.write(&mut short),
            Err(OnvifExtError::BufferTooSmall { len_bytes: 15 })
        );
        assert_eq!(short, [0xee; 15], "nothing written");
        assert_eq!(ext.unix_us(), T_UNIX_US);
    }

    #[test]
    fn reader_ignores_mbz_padding_and_an_appended_jpeg_extension() {
        let mut bytes = OnvifReplayExt::at_unix_us(0, 0xff).to_bytes().to_vec();
        bytes[12] = 0x2f; // D and all four mbz bits
        bytes[14] = 0x12;
        bytes[15] = 0x34;
        let ext = OnvifReplayExt::parse(&bytes).unwrap();
        assert!(ext.discontinuity && !ext.clean_point && !ext.end_of_section && !ext.terminal);
        assert_eq!((ext.cseq, ext.unix_us()), (0xff, 0));
        // length=5: the JPEG extension (0xffd8, jpeglength=1, one word) follows.
        bytes[3] = 5;
        bytes.extend_from_slice(&[0xff, 0xd8, 0x00, 0x01, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(OnvifReplayExt::parse(&bytes), Ok(ext));
        assert_eq!(OnvifReplayExt::parse_data(0xabac, &bytes[4..]), Ok(ext));
    }

    #[test]
    fn malformed_is_an_error_with_its_place() {
        let good = OnvifReplayExt::default().to_bytes();
        assert_eq!(
            OnvifReplayExt::parse(&good[..3]),
            Err(OnvifExtError::Truncated { offset: 3 })
        );
        assert_eq!(
            OnvifReplayExt::parse(&good[..15]),
            Err(OnvifExtError::Truncated { offset: 15 })
        );
        let mut other = good;
        other[1] = 0xad;
        assert_eq!(
            OnvifReplayExt::parse(&other),
            Err(OnvifExtError::OtherProfile { profile: 0xabad })
        );
        let mut two_words = good;
        two_words[3] = 2;
        assert_eq!(
            OnvifReplayExt::parse(&two_words),
            Err(OnvifExtError::TooShort { words: 2 })
        );
        assert_eq!(OnvifReplayExt::from_ext(0xabac, &good[4..15]), None);
        assert_eq!(
            format!("{}", OnvifExtError::TooShort { words: 2 }),
            "invalid ONVIF replay extension at byte 2: length 2 is below 3 words"
        );
    }

    #[test]
    fn round_trip_and_no_panic_on_any_bytes() {
        let mut rng = XorShift(0x0123_4567_89ab_cdef);
        for _ in 0..10_000 {
            let r = rng.next();
            let ext = OnvifReplayExt {
                ntp: rng.next(),
                clean_point: r & 1 != 0,
                end_of_section: r & 2 != 0,
                discontinuity: r & 4 != 0,
                terminal: r & 8 != 0,
                cseq: (r >> 8) as u8,
            };
            assert_eq!(OnvifReplayExt::parse(&ext.to_bytes()), Ok(ext));
            let noise: Vec<u8> = (0..(r >> 16) % 24).map(|_| rng.next() as u8).collect();
            let _ = OnvifReplayExt::parse(&noise);
            let _ = OnvifReplayExt::parse_data((r >> 32) as u16, &noise);
        }
    }
}
