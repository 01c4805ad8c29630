//! FNV-1a, the one non-cryptographic hash of the crate: cluster ids, the aggregation's
//! per-epoch ranks, the simulator's trace hash and test seeds. Stable across builds and
//! platforms (unlike std's `DefaultHasher`), so values on the wire and seeds in test
//! output stay the same.

/// A running 64-bit FNV-1a hash.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fnv1a(u64);

impl Fnv1a {
    /// FNV's 64-bit offset basis.
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    /// FNV's 64-bit prime.
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// The hash of nothing.
    pub(crate) fn new() -> Fnv1a {
        Fnv1a(Fnv1a::OFFSET)
    }

    /// Mixes `bytes` in.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(Fnv1a::PRIME);
        }
    }

    /// The hash so far.
    pub(crate) fn finish(self) -> u64 {
        self.0
    }
}

/// The FNV-1a hash of `bytes`.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = Fnv1a::new();
    hash.write(bytes);
    hash.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Reference values of 64-bit FNV-1a.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        let mut split = Fnv1a::new();
        split.write(b"foo");
        split.write(b"bar");
        assert_eq!(split.finish(), fnv1a(b"foobar"));
    }
}
