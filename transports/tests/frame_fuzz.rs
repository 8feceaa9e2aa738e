//! Fuzz-style decoder test: many thousands of random and mutated frames, from a fixed seed.
//!
//! Proves that the decoder never panics, never allocates more than the payload limit (measured
//! with a counting global allocator), accepts only canonical frames (an accepted input re-encodes
//! to the same bytes), and detects every single-bit error.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use dispel4rs_transports::frame::{self, Frame, FrameError, Header, DEFAULT_MAX_PAYLOAD, HEADER_LEN};

/// Records the largest single allocation made by the current thread while tracking is on.
struct CountingAlloc;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping only
// touches const-initialised thread-locals (which never allocate).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Decodes with allocation tracking; returns the result and the largest allocation it made.
fn tracked_decode(bytes: &[u8], max: usize) -> (Result<(Header, Frame), FrameError>, usize) {
    LARGEST.with(|l| l.set(0));
    TRACKING.with(|t| t.set(true));
    let result = std::panic::catch_unwind(|| frame::decode_with_header(bytes, max));
    TRACKING.with(|t| t.set(false));
    let largest = LARGEST.with(|l| l.get());
    match result {
        Ok(r) => (r, largest),
        Err(_) => panic!("decoder panicked on {} bytes: {:02x?}", bytes.len(), &bytes[..bytes.len().min(64)]),
    }
}

/// xorshift64* — small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn frame(&mut self, max_len: usize) -> Frame {
        let len = self.below(max_len + 1);
        Frame {
            kind: self.next() as u8,
            channel: self.next() as u32,
            source: self.next() as u32,
            payload: self.bytes(len),
        }
    }
}

const LIMIT: usize = 1024;

fn check_outcome(
    input: &[u8],
    result: &Result<(Header, Frame), FrameError>,
    largest: usize,
    stats: &mut [usize; 2],
) {
    assert!(largest <= LIMIT, "decoding {} bytes allocated {largest} bytes (limit {LIMIT})", input.len());
    match result {
        Ok((h, f)) => {
            assert!(f.payload.len() <= LIMIT);
            let mut again = Vec::new();
            frame::encode_parts(&mut again, f.kind, h.flags, f.channel, f.source, &f.payload).unwrap();
            assert!(
                again == input,
                "an accepted frame must re-encode to the same bytes ({} bytes, header {:02x?})",
                input.len(),
                &input[..HEADER_LEN]
            );
            stats[0] += 1;
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            stats[1] += 1;
        }
    }
}

#[test]
fn random_bytes_never_panic_nor_over_allocate() {
    let mut rng = Rng(0x5EED_0001);
    let mut stats = [0usize; 2];
    for i in 0..20_000 {
        let len = rng.below(200);
        let mut bytes = rng.bytes(len);
        // Half of the inputs start like a real frame so the deeper checks get exercised.
        if i % 2 == 0 && bytes.len() >= 8 {
            bytes[..4].copy_from_slice(&frame::MAGIC);
            bytes[4] = frame::FORMAT_VERSION;
            if i % 4 == 0 {
                bytes[6] = 0;
                bytes[7] = 0;
            }
        }
        let (result, largest) = tracked_decode(&bytes, LIMIT);
        check_outcome(&bytes, &result, largest, &mut stats);
    }
    assert_eq!(stats[0] + stats[1], 20_000);
}

#[test]
fn mutated_frames_never_panic_nor_over_allocate() {
    let mut rng = Rng(0x5EED_0002);
    let mut stats = [0usize; 2];
    for _ in 0..40_000 {
        let mut bytes = rng.frame(LIMIT + 64).encode().unwrap();
        for _ in 0..1 + rng.below(4) {
            let len = bytes.len();
            match rng.below(7) {
                0 if len > 0 => {
                    let at = rng.below(len);
                    bytes[at] ^= 1 << rng.below(8);
                }
                1 if len > 0 => {
                    let at = rng.below(len);
                    bytes[at] = rng.next() as u8;
                }
                2 => bytes.truncate(rng.below(len + 1)),
                3 => {
                    let n = 1 + rng.below(16);
                    let extra = rng.bytes(n);
                    bytes.extend_from_slice(&extra);
                }
                4 if len >= HEADER_LEN => {
                    // Lie about the payload length, often hugely.
                    let lie =
                        if rng.below(2) == 0 { rng.next() as u32 } else { u32::MAX - rng.below(16) as u32 };
                    bytes[16..20].copy_from_slice(&lie.to_le_bytes());
                }
                5 if len >= HEADER_LEN => {
                    // Fix the CRC after a header change so the later checks have to catch it.
                    bytes[6] = rng.next() as u8 & 1;
                    let payload_len = len - HEADER_LEN;
                    let claimed = u32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]) as usize;
                    if claimed == payload_len {
                        let mut h = crc32fast::Hasher::new();
                        h.update(&bytes[..20]);
                        h.update(&bytes[HEADER_LEN..]);
                        let crc = h.finalize();
                        bytes[20..24].copy_from_slice(&crc.to_le_bytes());
                    }
                }
                _ => {
                    // Splice another frame's tail on.
                    let other = rng.frame(32).encode().unwrap();
                    let from = rng.below(other.len());
                    bytes.extend_from_slice(&other[from..]);
                }
            }
        }
        let (result, largest) = tracked_decode(&bytes, LIMIT);
        check_outcome(&bytes, &result, largest, &mut stats);
    }
    // The mix must exercise both outcomes, or the test proves little.
    assert!(stats[0] > 100 && stats[1] > 10_000, "accepted/rejected = {stats:?}");
}

#[test]
fn every_single_bit_flip_is_detected() {
    let mut rng = Rng(0x5EED_0003);
    let mut flips = 0;
    for _ in 0..60 {
        let good = rng.frame(96).encode().unwrap();
        for bit in 0..good.len() * 8 {
            let mut bad = good.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let (result, largest) = tracked_decode(&bad, LIMIT);
            assert!(result.is_err(), "flipping bit {bit} of a {}-byte frame went unnoticed", good.len());
            assert!(largest <= LIMIT);
            flips += 1;
        }
    }
    assert!(flips > 10_000);
}

#[test]
fn a_header_claiming_gigabytes_allocates_nothing() {
    let mut header = Frame::new(1, 2, Vec::new()).encode().unwrap();
    for claimed in [u32::MAX, (DEFAULT_MAX_PAYLOAD as u32) + 1, 1 << 30] {
        header[16..20].copy_from_slice(&claimed.to_le_bytes());
        let (result, largest) = tracked_decode(&header, DEFAULT_MAX_PAYLOAD);
        assert!(
            matches!(result, Err(FrameError::TooLarge { len, .. }) if len == claimed as u64),
            "{result:?}"
        );
        assert_eq!(largest, 0, "rejecting an oversized header must not allocate");
        assert!(Header::parse(&header, DEFAULT_MAX_PAYLOAD).is_err());
    }
    // Within the limit but truncated: refused without allocating either.
    header[16..20].copy_from_slice(&1000u32.to_le_bytes());
    let (result, largest) = tracked_decode(&header, DEFAULT_MAX_PAYLOAD);
    assert!(matches!(result, Err(FrameError::Truncated { needed: 1024, got: 24 })), "{result:?}");
    assert_eq!(largest, 0);
}

#[test]
fn round_trip_of_many_random_frames() {
    let mut rng = Rng(0x5EED_0004);
    let mut buf = Vec::new();
    for _ in 0..5_000 {
        let f = rng.frame(LIMIT);
        buf.clear();
        f.encode_into(&mut buf).unwrap();
        let (result, largest) = tracked_decode(&buf, LIMIT);
        assert_eq!(result.unwrap().1, f);
        assert!(largest <= f.payload.len().max(1));
    }
}
