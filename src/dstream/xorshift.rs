//! Spark's `XORShiftRandom`, the generator its `coalesce(n, shuffle = true)` seeds with each input
//! partition's index to choose where that partition's records start (see [`super::rdd::Rdd::repartition`]).
//!
//! The seed is scrambled as Spark does (`XORShiftRandom.hashSeed`: Scala's `MurmurHash3.bytesHash` of
//! the seed's 8 big-endian bytes, once with `arraySeed` for the low 32 bits and once more, seeded with
//! those, for the high 32 bits); `next(bits)` is Marsaglia's xorshift with shifts 21, 35 and 4; and
//! [`XorShiftRandom::next_int`] is `java.util.Random.nextInt(bound)`, which Spark inherits.

/// Scala's `MurmurHash3.arraySeed`.
const ARRAY_SEED: u32 = 0x3c07_4a61;

/// Spark's `org.apache.spark.util.random.XORShiftRandom`.
pub(crate) struct XorShiftRandom {
    seed: i64,
}

impl XorShiftRandom {
    /// The generator `new XORShiftRandom(init)` makes.
    pub(crate) fn new(init: i64) -> Self {
        XorShiftRandom {
            seed: hash_seed(init),
        }
    }

    /// Java's `next(bits)` as Spark overrides it.
    fn next(&mut self, bits: u32) -> i32 {
        let mut next = self.seed ^ (self.seed << 21);
        next ^= ((next as u64) >> 35) as i64;
        next ^= next << 4;
        self.seed = next;
        (next & ((1i64 << bits) - 1)) as i32
    }

    /// `java.util.Random.nextInt(bound)`: uniform in `0..bound`.
    pub(crate) fn next_int(&mut self, bound: i32) -> i32 {
        assert!(bound > 0, "bound must be positive");
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            return ((bound as i64 * r as i64) >> 31) as i32;
        }
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }
}

/// Spark's `XORShiftRandom.hashSeed`.
fn hash_seed(seed: i64) -> i64 {
    let bytes = seed.to_be_bytes();
    let low = murmur3_32(&bytes, ARRAY_SEED);
    let high = murmur3_32(&bytes, low);
    ((high as i64) << 32) | (low as i64 & 0xFFFF_FFFF)
}

/// Scala's `MurmurHash3.bytesHash` (MurmurHash3 x86, 32 bits).
fn murmur3_32(data: &[u8], seed: u32) -> u32 {
    fn mix_last(hash: u32, data: u32) -> u32 {
        hash ^ data
            .wrapping_mul(0xcc9e_2d51)
            .rotate_left(15)
            .wrapping_mul(0x1b87_3593)
    }
    let mut h = seed;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        h = mix_last(h, k)
            .rotate_left(13)
            .wrapping_mul(5)
            .wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let k = tail
            .iter()
            .enumerate()
            .fold(0u32, |k, (i, &b)| k ^ (u32::from(b) << (8 * i)));
        h = mix_last(h, k);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_the_reference_vectors() {
        // MurmurHash3_x86_32 test vectors (seed, input, hash).
        assert_eq!(murmur3_32(b"", 0), 0);
        assert_eq!(murmur3_32(b"", 1), 0x514e_28b7);
        assert_eq!(murmur3_32(b"", 0xffff_ffff), 0x81f1_6f39);
        assert_eq!(murmur3_32(&[0xff, 0xff, 0xff, 0xff], 0), 0x7629_3b50);
        assert_eq!(murmur3_32(&[0x21, 0x43, 0x65, 0x87], 0), 0xf55b_516b);
        assert_eq!(murmur3_32(&[0x21, 0x43, 0x65], 0), 0x7e4a_8634);
        assert_eq!(murmur3_32(&[0x21, 0x43], 0), 0xa0f7_b07a);
        assert_eq!(murmur3_32(&[0x21], 0), 0x7266_1cf4);
        assert_eq!(murmur3_32(b"Hello, world!", 1234), 0xfaf6_cdb3);
    }

    #[test]
    fn next_int_stays_in_bounds() {
        for seed in 0..50 {
            let mut random = XorShiftRandom::new(seed);
            for bound in [1, 2, 3, 7, 8, 1000] {
                let x = random.next_int(bound);
                assert!((0..bound).contains(&x), "{x} not in 0..{bound}");
            }
        }
    }
}
