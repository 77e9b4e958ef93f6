//! SHA-1 of several equally long messages at once.
//!
//! A torrent is a list of SHA-1 piece hashes, and one SHA-1 cannot be split across cores or
//! units: each 64-byte block depends on the one before. With the x86 SHA extensions a single
//! stream runs at the *latency* of its chain of `sha1rnds4` instructions (20 dependent
//! rounds-of-four per block) while the unit could accept a new one every cycle or two. Feeding it
//! several independent streams, the next pieces a worker hashes, fills those idle cycles. Measured
//! on the 2-core AMD EPYC (Zen 4) the project is benchmarked on, per core: one stream (the `sha1`
//! crate, OpenSSL) 1.9 GB/s, two lanes 3.0 GB/s, three 3.8 GB/s, four 4.9 GB/s, eight 4.7 GB/s (the
//! registers run out). Hence [`LANES`] = 4.
//!
//! Where the CPU lacks the SHA extensions each lane is a [`Sha1`] from the `sha1` crate, so the
//! answers are the same everywhere; the tests check the interleaved path against that crate on
//! every length around the block boundaries.

use sha1::{Digest, Sha1};

/// SHA-1 digest.
pub type Sha1Digest = [u8; 20];

/// How many messages [`digest_all`] hashes together.
pub const LANES: usize = 4;

const INITIAL: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// `N` SHA-1 computations fed the same number of bytes at a time.
pub struct Sha1Lanes<const N: usize> {
    lanes: Lanes<N>,
}

enum Lanes<const N: usize> {
    /// Interleaved SHA-NI: each state, each partial block, and the common length so far.
    #[cfg(target_arch = "x86_64")]
    Native {
        state: [[u32; 5]; N],
        pending: Box<[[u8; 64]; N]>,
        pending_len: usize,
        length: u64,
    },
    Portable(Box<[Sha1; N]>),
}

/// Whether this CPU runs the interleaved SHA-NI path (else the `sha1` crate, one lane at a time).
pub fn accelerated() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
            && std::arch::is_x86_feature_detected!("ssse3")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl<const N: usize> Default for Sha1Lanes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Sha1Lanes<N> {
    pub fn new() -> Self {
        Self::with_acceleration(accelerated())
    }

    /// The interleaved SHA-NI lanes when `accelerate` (the caller checked the CPU), else the
    /// `sha1` crate per lane.
    fn with_acceleration(accelerate: bool) -> Self {
        #[cfg(target_arch = "x86_64")]
        if accelerate {
            return Sha1Lanes {
                lanes: Lanes::Native {
                    state: [INITIAL; N],
                    pending: Box::new([[0; 64]; N]),
                    pending_len: 0,
                    length: 0,
                },
            };
        }
        let _ = accelerate;
        Sha1Lanes {
            lanes: Lanes::Portable(Box::new(std::array::from_fn(|_| Sha1::new()))),
        }
    }

    /// Appends `parts[i]` to message `i`.
    ///
    /// # Panics
    /// When the parts differ in length (a caller bug: the lanes must stay in step).
    pub fn update(&mut self, parts: [&[u8]; N]) {
        let len = parts.first().map_or(0, |p| p.len());
        assert!(
            parts.iter().all(|p| p.len() == len),
            "Sha1Lanes::update needs parts of equal length"
        );
        match &mut self.lanes {
            #[cfg(target_arch = "x86_64")]
            Lanes::Native {
                state,
                pending,
                pending_len,
                length,
            } => {
                *length += len as u64;
                let mut parts = parts;
                if *pending_len > 0 {
                    let take = (64 - *pending_len).min(len);
                    for (buf, part) in pending.iter_mut().zip(&mut parts) {
                        buf[*pending_len..*pending_len + take].copy_from_slice(&part[..take]);
                        *part = &part[take..];
                    }
                    *pending_len += take;
                    if *pending_len < 64 {
                        return;
                    }
                    compress(state, std::array::from_fn(|i| &pending[i][..]));
                    *pending_len = 0;
                }
                let whole = parts[0].len() / 64 * 64;
                compress(state, std::array::from_fn(|i| &parts[i][..whole]));
                let rest = parts[0].len() - whole;
                for (buf, part) in pending.iter_mut().zip(&parts) {
                    buf[..rest].copy_from_slice(&part[whole..]);
                }
                *pending_len = rest;
            }
            Lanes::Portable(hashers) => {
                for (h, part) in hashers.iter_mut().zip(parts) {
                    h.update(part);
                }
            }
        }
    }

    /// The `N` digests, in lane order.
    pub fn finalize(self) -> [Sha1Digest; N] {
        match self.lanes {
            #[cfg(target_arch = "x86_64")]
            Lanes::Native {
                mut state,
                pending,
                pending_len,
                length,
            } => {
                // Standard padding: 0x80, zeros to 56 mod 64, the bit length big-endian. The
                // messages are equally long, so each needs the same number of padding blocks.
                let blocks = if pending_len < 56 { 1 } else { 2 };
                let end = blocks * 64;
                let tails: Vec<[u8; 128]> = pending
                    .iter()
                    .map(|p| {
                        let mut t = [0u8; 128];
                        t[..pending_len].copy_from_slice(&p[..pending_len]);
                        t[pending_len] = 0x80;
                        t[end - 8..end].copy_from_slice(&(length * 8).to_be_bytes());
                        t
                    })
                    .collect();
                compress(&mut state, std::array::from_fn(|i| &tails[i][..end]));
                state.map(|s| {
                    let mut out = [0u8; 20];
                    for (chunk, word) in out.chunks_exact_mut(4).zip(s) {
                        chunk.copy_from_slice(&word.to_be_bytes());
                    }
                    out
                })
            }
            Lanes::Portable(hashers) => (*hashers).map(|h| h.finalize().into()),
        }
    }
}

/// SHA-1 of each message, in order: runs of [`LANES`] equally long messages are hashed together,
/// whatever is left over (the short last piece) one at a time.
pub fn digest_all(messages: &[&[u8]]) -> Vec<Sha1Digest> {
    let mut out = Vec::with_capacity(messages.len());
    let mut rest = messages;
    while let Some((group, tail)) = rest.split_first_chunk::<LANES>() {
        if group.iter().any(|m| m.len() != group[0].len()) {
            break;
        }
        let mut lanes = Sha1Lanes::<LANES>::new();
        lanes.update(*group);
        out.extend(lanes.finalize());
        rest = tail;
    }
    out.extend(rest.iter().map(|m| <Sha1Digest>::from(Sha1::digest(m))));
    out
}

/// Runs the compression function over equally many whole blocks of each part.
#[cfg(target_arch = "x86_64")]
fn compress<const N: usize>(state: &mut [[u32; 5]; N], parts: [&[u8]; N]) {
    debug_assert!(
        parts
            .iter()
            .all(|p| p.len() == parts[0].len() && p.len() % 64 == 0)
    );
    if parts[0].is_empty() {
        return;
    }
    // The one unsafe call in the project: entering code compiled for the SHA extensions.
    // SAFETY: the Native lanes exist only after `accelerated()` confirmed this CPU has them.
    #[allow(unsafe_code)]
    unsafe {
        native::compress(state, parts)
    }
}

#[cfg(target_arch = "x86_64")]
mod native {
    use std::arch::x86_64::*;

    /// One stream's chaining state: ABCD with A in the highest lane, E in the highest lane.
    #[derive(Clone, Copy)]
    struct Lane {
        abcd: __m128i,
        e: __m128i,
    }

    /// Loads 16 message bytes as four big-endian words, the first in the highest lane (where the
    /// SHA instructions expect W[t]): a byte reversal of the whole vector does both at once.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn load(block: &[u8], at: usize) -> __m128i {
        let word = |i: usize| {
            let b = &block[at + 4 * i..at + 4 * i + 4];
            i32::from_be_bytes([b[0], b[1], b[2], b[3]])
        };
        _mm_set_epi32(word(0), word(1), word(2), word(3))
    }

    /// The next four message-schedule words from the previous sixteen (`w0` oldest):
    /// W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]).
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn schedule(w0: __m128i, w4: __m128i, w8: __m128i, w12: __m128i) -> __m128i {
        _mm_sha1msg2_epu32(_mm_xor_si128(_mm_sha1msg1_epu32(w0, w4), w8), w12)
    }

    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) fn compress<const N: usize>(state: &mut [[u32; 5]; N], parts: [&[u8]; N]) {
        let mut lane: [Lane; N] = std::array::from_fn(|k| {
            let s = state[k];
            Lane {
                abcd: _mm_set_epi32(s[0] as i32, s[1] as i32, s[2] as i32, s[3] as i32),
                e: _mm_set_epi32(s[4] as i32, 0, 0, 0),
            }
        });
        for block in 0..parts[0].len() / 64 {
            let start = lane;
            let mut w: [[__m128i; 4]; N] = std::array::from_fn(|k| {
                let b = &parts[k][block * 64..block * 64 + 64];
                [load(b, 0), load(b, 16), load(b, 32), load(b, 48)]
            });
            // ABCD at the start of the previous group of four rounds: E for the next group is
            // its A rotated, which `sha1nexte` computes and adds to the group's words.
            let mut prev: [__m128i; N] = std::array::from_fn(|k| lane[k].abcd);
            for k in 0..N {
                let wk = _mm_add_epi32(lane[k].e, w[k][0]);
                lane[k].abcd = _mm_sha1rnds4_epu32(lane[k].abcd, wk, 0);
            }
            // Groups 1..20; `$f` selects the round function and constant (one per 20 rounds).
            // Within a group the lanes are independent, which is what lets the CPU overlap them.
            macro_rules! group {
                ($g:literal, $f:literal) => {{
                    let i = $g % 4;
                    for k in 0..N {
                        if $g >= 4 {
                            let w = &mut w[k];
                            w[i] = schedule(w[i], w[(i + 1) % 4], w[(i + 2) % 4], w[(i + 3) % 4]);
                        }
                        let wk = _mm_sha1nexte_epu32(prev[k], w[k][i]);
                        prev[k] = lane[k].abcd;
                        lane[k].abcd = _mm_sha1rnds4_epu32(lane[k].abcd, wk, $f);
                    }
                }};
            }
            group!(1, 0);
            group!(2, 0);
            group!(3, 0);
            group!(4, 0);
            group!(5, 1);
            group!(6, 1);
            group!(7, 1);
            group!(8, 1);
            group!(9, 1);
            group!(10, 2);
            group!(11, 2);
            group!(12, 2);
            group!(13, 2);
            group!(14, 2);
            group!(15, 3);
            group!(16, 3);
            group!(17, 3);
            group!(18, 3);
            group!(19, 3);
            for k in 0..N {
                // E after round 80 is A from the start of group 19, rotated; then the block's
                // starting state is added back (the Davies-Meyer feed-forward).
                lane[k].e = _mm_sha1nexte_epu32(prev[k], start[k].e);
                lane[k].abcd = _mm_add_epi32(lane[k].abcd, start[k].abcd);
            }
        }
        for (s, l) in state.iter_mut().zip(&lane) {
            *s = [
                _mm_extract_epi32(l.abcd, 3) as u32,
                _mm_extract_epi32(l.abcd, 2) as u32,
                _mm_extract_epi32(l.abcd, 1) as u32,
                _mm_extract_epi32(l.abcd, 0) as u32,
                _mm_extract_epi32(l.e, 3) as u32,
            ];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: u32) -> Vec<u8> {
        let mut x = 0x9E37_79B9u32 ^ seed.wrapping_mul(0x85EB_CA6B);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    fn reference(m: &[u8]) -> Sha1Digest {
        Sha1::digest(m).into()
    }

    #[test]
    fn four_lanes_match_sha1_on_every_length_around_block_boundaries() {
        for len in (0..300).chain([4095, 4096, 4097, 65_536, 1 << 20]) {
            let msgs: Vec<Vec<u8>> = (0..LANES as u32).map(|s| data(len, s)).collect();
            let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
            let want: Vec<Sha1Digest> = refs.iter().map(|m| reference(m)).collect();
            assert_eq!(digest_all(&refs), want, "length {len}");
        }
    }

    #[test]
    fn other_lane_counts_match_too() {
        let msgs: Vec<Vec<u8>> = (0..3).map(|s| data(1000, s)).collect();
        let mut two = Sha1Lanes::<2>::new();
        two.update([&msgs[0], &msgs[1]]);
        assert_eq!(two.finalize(), [reference(&msgs[0]), reference(&msgs[1])]);
        let mut three = Sha1Lanes::<3>::new();
        three.update([&msgs[0], &msgs[1], &msgs[2]]);
        assert_eq!(
            three.finalize().to_vec(),
            msgs.iter().map(|m| reference(m)).collect::<Vec<_>>()
        );
        let mut one = Sha1Lanes::<1>::new();
        one.update([&msgs[2]]);
        assert_eq!(one.finalize(), [reference(&msgs[2])]);
    }

    #[test]
    fn updates_in_uneven_steps_match_one_shot() {
        let msgs: Vec<Vec<u8>> = (0..LANES as u32).map(|s| data(10_000, s + 7)).collect();
        let mut lanes = Sha1Lanes::<LANES>::new();
        let mut at = 0;
        for step in [1, 63, 64, 65, 127, 1000, 3, 8677].iter().cycle() {
            let end = (at + step).min(10_000);
            lanes.update(std::array::from_fn(|i| &msgs[i][at..end]));
            at = end;
            if at == 10_000 {
                break;
            }
        }
        let want: Vec<Sha1Digest> = msgs.iter().map(|m| reference(m)).collect();
        assert_eq!(lanes.finalize().to_vec(), want);
    }

    #[test]
    fn leftovers_and_unequal_lengths_fall_back_in_order() {
        let msgs: Vec<Vec<u8>> = [64, 64, 64, 64, 64, 64, 64, 10, 64]
            .iter()
            .enumerate()
            .map(|(i, &len)| data(len, i as u32))
            .collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| &m[..]).collect();
        let want: Vec<Sha1Digest> = refs.iter().map(|m| reference(m)).collect();
        assert_eq!(digest_all(&refs), want);
        assert_eq!(digest_all(&[]), Vec::<Sha1Digest>::new());
    }

    #[test]
    fn known_answer_abc() {
        let out = digest_all(&[b"abc", b"abc", b"abc", b"abc"]);
        let abc = [
            0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e, 0x25, 0x71, 0x78, 0x50,
            0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d,
        ];
        assert!(out.iter().all(|d| *d == abc));
    }

    #[test]
    fn the_portable_lanes_give_the_same_digests() {
        let msgs: Vec<Vec<u8>> = (0..LANES as u32).map(|s| data(5000, s + 11)).collect();
        let mut portable = Sha1Lanes::<LANES>::with_acceleration(false);
        let mut native = Sha1Lanes::<LANES>::new();
        for step in msgs[0]
            .chunks(777)
            .enumerate()
            .map(|(i, c)| (i * 777, c.len()))
        {
            let parts: [&[u8]; LANES] = std::array::from_fn(|k| &msgs[k][step.0..step.0 + step.1]);
            portable.update(parts);
            native.update(parts);
        }
        let want: Vec<Sha1Digest> = msgs.iter().map(|m| reference(m)).collect();
        assert_eq!(portable.finalize().to_vec(), want);
        assert_eq!(native.finalize().to_vec(), want);
    }

    #[test]
    #[should_panic(expected = "equal length")]
    fn unequal_parts_are_a_caller_bug() {
        Sha1Lanes::<2>::new().update([b"ab", b"c"]);
    }
}
