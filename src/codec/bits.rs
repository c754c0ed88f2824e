//! Bit reader over a NAL unit's payload: the RBSP with emulation prevention
//! bytes (`00 00 03`) removed on the fly, so parsing needs no copy.

/// Why a read from a [`BitReader`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitsError {
    /// The payload ended inside a syntax element.
    EndOfData,
    /// An exp-Golomb code with 32 or more leading zeros: larger than any
    /// field we parse may be, so it is garbage.
    GolombTooLong,
}

impl From<BitsError> for &'static str {
    fn from(e: BitsError) -> Self {
        match e {
            BitsError::EndOfData => "ends too early",
            BitsError::GolombTooLong => "exp-Golomb code too long",
        }
    }
}

/// Reads bits MSB first, as H.264/H.265 `u(n)`, `ue(v)` and `se(v)`.
#[derive(Clone, Debug)]
pub struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load.
    pos: usize,
    /// Zero bytes just loaded, to spot an emulation prevention byte.
    zeros: u8,
    /// The byte being read, its low `bits_left` bits still unread.
    cur: u8,
    bits_left: u8,
}

impl<'a> BitReader<'a> {
    /// A reader over `payload`: a NAL unit without its header bytes.
    pub fn new(payload: &'a [u8]) -> Self {
        Self {
            data: payload,
            pos: 0,
            zeros: 0,
            cur: 0,
            bits_left: 0,
        }
    }

    fn next_byte(&mut self) -> Result<u8, BitsError> {
        let mut b = *self.data.get(self.pos).ok_or(BitsError::EndOfData)?;
        self.pos += 1;
        if self.zeros >= 2 && b == 3 {
            self.zeros = 0;
            b = *self.data.get(self.pos).ok_or(BitsError::EndOfData)?;
            self.pos += 1;
        }
        self.zeros = if b == 0 {
            self.zeros.saturating_add(1)
        } else {
            0
        };
        Ok(b)
    }

    /// One bit, `u(1)`.
    pub fn read_bit(&mut self) -> Result<bool, BitsError> {
        if self.bits_left == 0 {
            self.cur = self.next_byte()?;
            self.bits_left = 8;
        }
        self.bits_left -= 1;
        Ok((self.cur >> self.bits_left) & 1 == 1)
    }

    /// `u(n)` for `n` up to 32 (larger `n` keeps only the last 32 bits read).
    pub fn read_bits(&mut self, n: u32) -> Result<u32, BitsError> {
        let mut v: u32 = 0;
        for _ in 0..n {
            v = (v << 1) | u32::from(self.read_bit()?);
        }
        Ok(v)
    }

    /// `u(8)`.
    pub fn read_u8(&mut self) -> Result<u8, BitsError> {
        // Eight bits always fit in a u8.
        Ok(self.read_bits(8)?.to_be_bytes()[3])
    }

    /// Skips `n` bits.
    pub fn skip_bits(&mut self, n: u32) -> Result<(), BitsError> {
        for _ in 0..n {
            self.read_bit()?;
        }
        Ok(())
    }

    /// `ue(v)`: unsigned exp-Golomb, up to `u32::MAX - 1`.
    pub fn read_ue(&mut self) -> Result<u32, BitsError> {
        let mut leading_zeros = 0u32;
        while !self.read_bit()? {
            leading_zeros += 1;
            if leading_zeros >= 32 {
                return Err(BitsError::GolombTooLong);
            }
        }
        // leading_zeros <= 31: (2^31 - 1) + (2^31 - 1) fits in u32.
        Ok((1u32 << leading_zeros) - 1 + self.read_bits(leading_zeros)?)
    }

    /// `se(v)`: signed exp-Golomb.
    pub fn read_se(&mut self) -> Result<i32, BitsError> {
        let k = i64::from(self.read_ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        // |v| <= 2^31 - 1 because k <= 2^32 - 2.
        i32::try_from(v).map_err(|_| BitsError::GolombTooLong)
    }

    /// `ue(v)` that must not exceed `max`; `reason` names the field otherwise.
    pub fn read_ue_max(&mut self, max: u32, reason: &'static str) -> Result<u32, &'static str> {
        let v = self.read_ue()?;
        if v > max {
            return Err(reason);
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_golomb_values() {
        // 1 | 010 | 011 | 00100 | 00101 -> ue 0, 1, 2, 3, 4
        let mut r = BitReader::new(&[0b1010_0110, 0b0100_0010, 0b1000_0000]);
        for want in 0..5 {
            assert_eq!(r.read_ue(), Ok(want));
        }
        // se: 010 -> 1, 011 -> -1, 00100 -> 2
        let mut r = BitReader::new(&[0b0100_1100, 0b1000_0000]);
        assert_eq!(r.read_se(), Ok(1));
        assert_eq!(r.read_se(), Ok(-1));
        assert_eq!(r.read_se(), Ok(2));
    }

    #[test]
    fn emulation_prevention_removed() {
        let mut r = BitReader::new(&[0x00, 0x00, 0x03, 0x01, 0xff]);
        assert_eq!(r.read_bits(24), Ok(0x00_0001));
        assert_eq!(r.read_u8(), Ok(0xff));
        assert_eq!(r.read_bit(), Err(BitsError::EndOfData));
    }

    #[test]
    fn long_golomb_is_an_error_not_a_panic() {
        let mut r = BitReader::new(&[0, 0, 0, 0, 0, 0xff]);
        assert_eq!(r.read_ue(), Err(BitsError::GolombTooLong));
        let mut r = BitReader::new(&[0, 0, 0]);
        assert!(r.read_ue().is_err());
    }
}
