//! SHA-256 (FIPS 180-4, section 6.2) of the model file, for the generated header and
//! `MODEL_SHA256`. A fingerprint, not a security boundary; written here because it is
//! small, and a build-dependency on kiln should not pull a hashing stack (8 crates) for it.
//! The round constants and initial hash are computed from their definition in the
//! standard (section 4.2.2, 5.3.3) rather than typed in.

/// `floor(cbrt(n))`, exactly, for `n < 2^108`.
const fn icbrt(n: u128) -> u128 {
    let (mut lo, mut hi) = (0u128, 1u128 << 36);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if mid * mid * mid <= n {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `floor(sqrt(n))`, exactly, for `n < 2^72`.
const fn isqrt(n: u128) -> u128 {
    let (mut lo, mut hi) = (0u128, 1u128 << 36);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if mid * mid <= n {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The first `N` primes.
const fn primes<const N: usize>() -> [u128; N] {
    let mut out = [0u128; N];
    let (mut found, mut n) = (0, 2u128);
    while found < N {
        let mut d = 2;
        let mut prime = true;
        while d * d <= n {
            if n % d == 0 {
                prime = false;
                break;
            }
            d += 1;
        }
        if prime {
            out[found] = n;
            found += 1;
        }
        n += 1;
    }
    out
}

/// The first 32 bits of the fractional parts of the cube roots of the first 64 primes.
const K: [u32; 64] = {
    let p = primes::<64>();
    let mut k = [0u32; 64];
    let mut i = 0;
    while i < 64 {
        k[i] = icbrt(p[i] << 96) as u32;
        i += 1;
    }
    k
};

/// The first 32 bits of the fractional parts of the square roots of the first 8 primes.
const H0: [u32; 8] = {
    let p = primes::<8>();
    let mut h = [0u32; 8];
    let mut i = 0;
    while i < 8 {
        h[i] = isqrt(p[i] << 64) as u32;
        i += 1;
    }
    h
};

/// The digest of `data`.
pub(crate) fn digest(data: &[u8]) -> [u8; 32] {
    let mut h = H0;
    // The message, a 1 bit, zeros to 56 bytes mod 64, and the length in bits (big-endian).
    let bits = (data.len() as u64).wrapping_mul(8);
    let mut tail = Vec::with_capacity(128);
    let full = data.len() / 64 * 64;
    tail.extend_from_slice(&data[full..]);
    tail.push(0x80);
    while tail.len() % 64 != 56 {
        tail.push(0);
    }
    tail.extend_from_slice(&bits.to_be_bytes());
    for block in data[..full].chunks_exact(64).chain(tail.chunks_exact(64)) {
        compress(&mut h, block);
    }
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(h) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

fn compress(h: &mut [u32; 8], block: &[u8]) {
    let mut w = [0u32; 64];
    for (t, b) in block.chunks_exact(4).enumerate() {
        w[t] = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    }
    for t in 16..64 {
        let s0 = w[t - 15].rotate_right(7) ^ w[t - 15].rotate_right(18) ^ (w[t - 15] >> 3);
        let s1 = w[t - 2].rotate_right(17) ^ w[t - 2].rotate_right(19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16]
            .wrapping_add(s0)
            .wrapping_add(w[t - 7])
            .wrapping_add(s1);
    }
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = *h;
    for t in 0..64 {
        let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
        let ch = (e & f) ^ (!e & g);
        let t1 = hh
            .wrapping_add(s1)
            .wrapping_add(ch)
            .wrapping_add(K[t])
            .wrapping_add(w[t]);
        let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
        let maj = (a & b) ^ (a & c) ^ (b & c);
        let t2 = s0.wrapping_add(maj);
        hh = g;
        g = f;
        f = e;
        e = d.wrapping_add(t1);
        d = c;
        c = b;
        b = a;
        a = t1.wrapping_add(t2);
    }
    for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
        *x = x.wrapping_add(y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: [u8; 32]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn known_answers() {
        // FIPS 180-2, appendix B (one block, two blocks, a million 'a's), and the empty
        // message.
        assert_eq!(
            hex(digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(digest(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        assert_eq!(
            hex(digest(&vec![b'a'; 1_000_000])),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
        assert_eq!(
            hex(digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        // The constants' ends, as printed in FIPS 180-4 sections 4.2.2 and 5.3.3.
        assert_eq!((K[0], K[63]), (0x428a2f98, 0xc67178f2));
        assert_eq!((H0[0], H0[7]), (0x6a09e667, 0x5be0cd19));
    }

    #[test]
    fn agrees_with_the_sha2_crate_at_every_padding_boundary() {
        use sha2::Digest;
        let data: Vec<u8> = (0..300u32).map(|i| (i * 31 + 7) as u8).collect();
        for n in 0..data.len() {
            let theirs: [u8; 32] = sha2::Sha256::digest(&data[..n]).into();
            assert_eq!(digest(&data[..n]), theirs, "length {n}");
        }
    }
}
