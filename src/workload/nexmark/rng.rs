//! The reference generator's random numbers, without the `rand` crate: `SmallRng` of rand 0.8 on a
//! 64-bit machine (xoshiro256++ seeded by `seed_from_u64`, which fills the seed with PCG32), and the
//! few ways the generator draws from it (integer ranges, `f32`, slice choice).
//!
//! Every draw reproduces rand 0.8's algorithm exactly (its rejection zones included), so that a
//! generated event equals the reference's. Strings the compact events do not keep are not built: their
//! letters are drawn and thrown away, which keeps the generator in step and allocates nothing.

/// rand 0.8's `SmallRng` on 64-bit targets: xoshiro256++.
#[derive(Clone, Debug)]
pub struct SmallRng {
    s: [u64; 4],
}

impl SmallRng {
    /// `SmallRng::seed_from_u64(seed)`: rand_core 0.6's default, 8 words of PCG32 read as the
    /// little-endian seed (all zeros would become xoshiro's own `seed_from_u64(0)`).
    #[inline]
    pub fn seed_from_u64(mut state: u64) -> Self {
        const MUL: u64 = 6364136223846793005;
        const INC: u64 = 11634580027462260723;
        let mut pcg32 = || {
            state = state.wrapping_mul(MUL).wrapping_add(INC);
            let xorshifted = (((state >> 18) ^ state) >> 27) as u32;
            let rot = (state >> 59) as u32;
            xorshifted.rotate_right(rot) as u64
        };
        let mut s = [0u64; 4];
        for word in &mut s {
            let lo = pcg32();
            let hi = pcg32();
            *word = lo | (hi << 32);
        }
        if s == [0; 4] {
            return Self::splitmix_seeded(0);
        }
        SmallRng { s }
    }

    /// Xoshiro256++'s own `seed_from_u64` (SplitMix64), used for an all-zero seed only.
    fn splitmix_seeded(mut state: u64) -> Self {
        let mut s = [0u64; 4];
        for word in &mut s {
            state = state.wrapping_add(0x9e3779b97f4a7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
            *word = z ^ (z >> 31);
        }
        SmallRng { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// The next 32 random bits (the upper half of the next 64).
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// `gen_range(0..n)` for `u64`/`usize` (rand 0.8's `sample_single`: widening multiply, rejection
    /// zone from the leading zeros).
    #[inline]
    pub fn below_u64(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        let zone = (n << n.leading_zeros()).wrapping_sub(1);
        loop {
            let m = self.next_u64() as u128 * n as u128;
            if (m as u64) <= zone {
                return (m >> 64) as u64;
            }
        }
    }

    /// `gen_range(0..n)` for `u32`/`i32`, and `slice.choose` (which draws an index this way).
    #[inline]
    pub fn below_u32(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0);
        let zone = (n << n.leading_zeros()).wrapping_sub(1);
        loop {
            let m = self.next_u32() as u64 * n as u64;
            if (m as u32) <= zone {
                return (m >> 32) as u32;
            }
        }
    }

    /// `gen_range` over `n` values of a `u8` (sampled in `u32`, with the exact rejection zone rand
    /// uses for types of 16 bits or less).
    #[inline]
    pub fn below_small(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0);
        let zone = u32::MAX - (u32::MAX - n + 1) % n;
        loop {
            let m = self.next_u32() as u64 * n as u64;
            if (m as u32) <= zone {
                return (m >> 32) as u32;
            }
        }
    }

    /// Draws the letters of a reference `gen_exact_string(len)` (each `gen_range(b'a'..=b'z')`)
    /// without building the string.
    #[inline]
    pub fn skip_letters(&mut self, len: usize) {
        for _ in 0..len {
            self.below_small(26);
        }
    }

    /// `gen::<f32>()`: 24 random bits in `[0, 1)`.
    #[inline]
    pub fn gen_f32(&mut self) -> f32 {
        (self.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// The reference's `gen_price`: `10^(6·u) · 100` cents, rounded.
    #[inline]
    pub fn price(&mut self) -> u64 {
        super::config::round_to_u64(10.0_f32.powf(self.gen_f32() * 6.0) * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_matches_its_reference_output() {
        // The reference vector of xoshiro256plusplus.c (as rand 0.8's own test), from the state
        // [1, 2, 3, 4].
        let mut rng = SmallRng { s: [1, 2, 3, 4] };
        let expected = [
            41943041u64,
            58720359,
            3588806011781223,
            3591011842654386,
            9228616714210784205,
        ];
        for e in expected {
            assert_eq!(rng.next_u64(), e);
        }
    }

    #[test]
    fn ranges_stay_in_range_and_cover_it() {
        let mut rng = SmallRng::seed_from_u64(7);
        let mut seen = [false; 26];
        for _ in 0..2000 {
            let l = rng.below_small(26);
            seen[l as usize] = true;
            assert!(rng.below_u32(10) < 10);
            assert!(rng.below_u64(3) < 3);
            let f = rng.gen_f32();
            assert!((0.0..1.0).contains(&f));
        }
        assert!(seen.iter().all(|s| *s));
    }
}
