//! Percentiles and a repeatable random source for the benches' figures.

/// The `p` quantile (0..=1, nearest rank) of sorted µs or ns values,
/// divided by 1000 (ms or µs); NaN when there is none.
pub fn pct(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0
}

/// A tiny xorshift: repeatable runs (and garbage) without a dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next value; never 0 from a non-zero seed.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}
