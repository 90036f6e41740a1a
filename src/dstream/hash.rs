//! Where a key goes: Spark's `HashPartitioner` with PySpark's `portable_hash`, so that keyed outputs sit
//! in the same partitions, in the same order, as under PySpark.
//!
//! A key's partition is `portable_hash(key) mod n` (the non-negative remainder). `portable_hash` is
//! Python's `hash` (what PySpark runs with `PYTHONHASHSEED=0`): integers hash to themselves (modulo
//! 2⁶¹ − 1, with −1 becoming −2), booleans to 0 and 1, `None` to 0, strings to SipHash-1-3 with a zero
//! key over CPython's representation of the string (Python 3.11 and later), and tuples by PySpark's own
//! tuple formula.

/// A key Spark can place in a partition: its `portable_hash`.
pub trait PartitionKey {
    /// PySpark's `portable_hash` of this key.
    fn portable_hash(&self) -> i64;

    /// The partition of `n` this key belongs to.
    fn partition(&self, n: usize) -> usize {
        self.portable_hash().rem_euclid(n as i64) as usize
    }
}

const MODULUS: i128 = (1 << 61) - 1;

/// Python's `hash` of an integer.
pub fn int_hash(x: i128) -> i64 {
    let h = if x >= 0 {
        x % MODULUS
    } else {
        -((-x) % MODULUS)
    };
    if h == -1 {
        -2
    } else {
        h as i64
    }
}

/// Python's `hash` of a string (CPython 3.11+, `PYTHONHASHSEED=0`).
pub fn str_hash(s: &str) -> i64 {
    if s.is_empty() {
        return 0;
    }
    // CPython hashes the string's storage: one byte per character when all fit in latin-1, two
    // (little-endian) when all fit in UCS-2, four otherwise.
    let widest = s.chars().map(|c| c as u32).max().unwrap_or(0);
    let h = if widest < 0x80 {
        siphash13(s.as_bytes())
    } else {
        let width = if widest < 0x100 {
            1
        } else if widest < 0x10000 {
            2
        } else {
            4
        };
        let mut bytes = Vec::with_capacity(s.len() * width);
        for c in s.chars() {
            bytes.extend_from_slice(&(c as u32).to_le_bytes()[..width]);
        }
        siphash13(&bytes)
    } as i64;
    if h == -1 {
        -2
    } else {
        h
    }
}

/// PySpark's `portable_hash` of a tuple, from its elements' hashes.
pub fn tuple_hash(elements: impl ExactSizeIterator<Item = i64>) -> i64 {
    const MAX: u64 = i64::MAX as u64;
    let len = elements.len() as u64;
    let mut h: u64 = 0x345678;
    for e in elements {
        h = ((h ^ e as u64).wrapping_mul(1_000_003)) & MAX;
    }
    (h ^ len) as i64
}

/// SipHash-1-3 with a zero key.
fn siphash13(data: &[u8]) -> u64 {
    let (mut v0, mut v1, mut v2, mut v3) = (
        0x736f_6d65_7073_6575u64,
        0x646f_7261_6e64_6f6du64,
        0x6c79_6765_6e65_7261u64,
        0x7465_6462_7974_6573u64,
    );
    let round = |v0: &mut u64, v1: &mut u64, v2: &mut u64, v3: &mut u64| {
        *v0 = v0.wrapping_add(*v1);
        *v1 = v1.rotate_left(13) ^ *v0;
        *v0 = v0.rotate_left(32);
        *v2 = v2.wrapping_add(*v3);
        *v3 = v3.rotate_left(16) ^ *v2;
        *v0 = v0.wrapping_add(*v3);
        *v3 = v3.rotate_left(21) ^ *v0;
        *v2 = v2.wrapping_add(*v1);
        *v1 = v1.rotate_left(17) ^ *v2;
        *v2 = v2.rotate_left(32);
    };
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let m = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        v3 ^= m;
        round(&mut v0, &mut v1, &mut v2, &mut v3);
        v0 ^= m;
    }
    let mut last = (data.len() as u64) << 56;
    for (i, b) in chunks.remainder().iter().enumerate() {
        last |= (*b as u64) << (8 * i);
    }
    v3 ^= last;
    round(&mut v0, &mut v1, &mut v2, &mut v3);
    v0 ^= last;
    v2 ^= 0xff;
    for _ in 0..3 {
        round(&mut v0, &mut v1, &mut v2, &mut v3);
    }
    v0 ^ v1 ^ v2 ^ v3
}

macro_rules! int_keys {
    ($($t:ty),*) => {$(
        impl PartitionKey for $t {
            fn portable_hash(&self) -> i64 {
                int_hash(*self as i128)
            }
        }
    )*};
}
int_keys!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl PartitionKey for bool {
    fn portable_hash(&self) -> i64 {
        *self as i64
    }
}

impl PartitionKey for char {
    fn portable_hash(&self) -> i64 {
        let mut buf = [0u8; 4];
        str_hash(self.encode_utf8(&mut buf))
    }
}

impl PartitionKey for str {
    fn portable_hash(&self) -> i64 {
        str_hash(self)
    }
}

impl PartitionKey for String {
    fn portable_hash(&self) -> i64 {
        str_hash(self)
    }
}

impl<T: PartitionKey + ?Sized> PartitionKey for &T {
    fn portable_hash(&self) -> i64 {
        (**self).portable_hash()
    }
}

impl<T: PartitionKey> PartitionKey for Option<T> {
    fn portable_hash(&self) -> i64 {
        self.as_ref().map_or(0, PartitionKey::portable_hash)
    }
}

impl PartitionKey for () {
    fn portable_hash(&self) -> i64 {
        tuple_hash(std::iter::empty())
    }
}

macro_rules! tuple_keys {
    ($(($($name:ident),+))*) => {$(
        impl<$($name: PartitionKey),+> PartitionKey for ($($name,)+) {
            #[allow(non_snake_case)]
            fn portable_hash(&self) -> i64 {
                let ($($name,)+) = self;
                tuple_hash([$($name.portable_hash()),+].into_iter())
            }
        }
    )*};
}
tuple_keys!((A)(A, B)(A, B, C)(A, B, C, D));

#[cfg(test)]
mod tests {
    use super::*;

    /// Values printed by CPython 3.11 with `PYTHONHASHSEED=0`, and by PySpark's `portable_hash`.
    #[test]
    fn hashes_are_pythons() {
        assert_eq!("hello".portable_hash(), -2096571579003691106);
        assert_eq!("a".portable_hash(), 4644417185603328019);
        assert_eq!("".portable_hash(), 0);
        assert_eq!("é".portable_hash(), 6047309291227476195);
        assert_eq!("日本".portable_hash(), 6243316497235261705);
        assert_eq!(1999i64.portable_hash(), 1999);
        assert_eq!((-1i64).portable_hash(), -2);
        assert_eq!(u64::MAX.portable_hash(), 7);
        assert_eq!(((1u64 << 61) - 1).portable_hash(), 0);
        assert_eq!(("a", 1).portable_hash(), 102774922574124034);
        assert_eq!((1, 2).portable_hash(), 3430029580082870073);
        assert_eq!((-3, "x").portable_hash(), 8597422652181482054);
    }

    #[test]
    fn partitions_are_non_negative_remainders() {
        assert_eq!(1999.partition(2), 1);
        assert_eq!(2000.partition(2), 0);
        assert_eq!((-3).partition(2), 1);
        assert_eq!((-4).partition(3), 2);
    }
}
