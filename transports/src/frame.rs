//! The versioned wire format: one [`Frame`] = a fixed 24-byte header + payload.
//!
//! Every transport of this crate moves exactly these bytes (ZMQ: one message per frame; MPI: one
//! message of `u8` per frame), so the layout below **is** the wire format. All integers are
//! little-endian, whatever the host.
//!
//! | offset | size | field         | meaning                                                        |
//! |-------:|-----:|---------------|----------------------------------------------------------------|
//! | 0      | 4    | `magic`       | ASCII `D4RF` (`0x44 0x34 0x52 0x46`)                           |
//! | 4      | 1    | `version`     | format version, [`FORMAT_VERSION`] (= 1)                       |
//! | 5      | 1    | `kind`        | opaque to this crate; chosen by the layer above                |
//! | 6      | 1    | `flags`       | bit 0 = [`FLAG_CONTROL`] (transport-internal frame); others 0  |
//! | 7      | 1    | `reserved`    | must be 0                                                      |
//! | 8      | 4    | `channel`     | `u32`, opaque to this crate (e.g. a destination mailbox)       |
//! | 12     | 4    | `source`      | `u32`, id of the sending endpoint (stamped by the transport)   |
//! | 16     | 4    | `payload_len` | `u32`, number of payload bytes that follow the header          |
//! | 20     | 4    | `crc32`       | CRC-32 (IEEE) of header bytes `0..20` followed by the payload  |
//! | 24     | n    | payload       | `payload_len` bytes                                            |
//!
//! Decoding checks, in this order: length ≥ header, magic, version, flags, reserved byte, payload
//! length against the caller's limit (**before** anything is allocated), exact total length, CRC.
//! Only then is the payload copied out. A bad frame is a [`FrameError`], never a panic.
//!
//! Frames with [`FLAG_CONTROL`] set are reserved for transports (heartbeats); a transport never
//! hands them to its caller, so all 256 `kind` values belong to the layer above.

use std::fmt;

/// The four magic bytes that open every frame: ASCII `D4RF`.
pub const MAGIC: [u8; 4] = *b"D4RF";
/// The frame format version written by this build (the only one it accepts).
pub const FORMAT_VERSION: u8 = 1;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 24;
/// Default upper bound for a payload accepted by a decoder: 64 MiB.
pub const DEFAULT_MAX_PAYLOAD: usize = 64 * 1024 * 1024;
/// Flag bit: the frame is transport-internal (e.g. a heartbeat) and never reaches the caller.
pub const FLAG_CONTROL: u8 = 0x01;
/// Every flag bit this version knows; a frame with any other bit set is rejected.
pub const KNOWN_FLAGS: u8 = FLAG_CONTROL;

/// Offset of the CRC field; the CRC covers `bytes[..CRC_OFFSET]` and the payload.
const CRC_OFFSET: usize = 20;

/// One unit moved by a transport: a small routing header and an opaque payload (usually a batch).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Frame {
    /// Opaque message kind chosen by the layer above (e.g. data batch, credit, end of stream).
    pub kind: u8,
    /// Opaque channel number chosen by the layer above (e.g. destination mailbox).
    pub channel: u32,
    /// Id of the endpoint that sent the frame. Transports overwrite it with their own id on send.
    pub source: u32,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Payloads can be megabytes: show the length, not the bytes.
        f.debug_struct("Frame")
            .field("kind", &self.kind)
            .field("channel", &self.channel)
            .field("source", &self.source)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

/// The decoded fixed header of a frame (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format version (always [`FORMAT_VERSION`] once parsed successfully).
    pub version: u8,
    /// Opaque kind.
    pub kind: u8,
    /// Flag bits (a subset of [`KNOWN_FLAGS`]).
    pub flags: u8,
    /// Opaque channel.
    pub channel: u32,
    /// Sending endpoint id.
    pub source: u32,
    /// Number of payload bytes that follow the header.
    pub payload_len: u32,
    /// CRC-32 stored in the header.
    pub crc32: u32,
}

impl Header {
    /// True when [`FLAG_CONTROL`] is set (transport-internal frame).
    pub fn is_control(&self) -> bool {
        self.flags & FLAG_CONTROL != 0
    }

    /// Parses and validates the fixed header at the start of `bytes` without looking at the
    /// payload or the CRC. `bytes` may be just the header (useful for stream readers that must
    /// know the length before reading, and allocating for, the payload).
    ///
    /// Fails if fewer than [`HEADER_LEN`] bytes are given, on wrong magic, unknown version or
    /// flags, a non-zero reserved byte, or a payload length above `max_payload`.
    pub fn parse(bytes: &[u8], max_payload: usize) -> Result<Header, FrameError> {
        if bytes.len() < HEADER_LEN {
            return Err(FrameError::Truncated { needed: HEADER_LEN, got: bytes.len() });
        }
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if magic != MAGIC {
            return Err(FrameError::BadMagic { found: magic });
        }
        let version = bytes[4];
        if version != FORMAT_VERSION {
            return Err(FrameError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
        }
        let flags = bytes[6];
        if flags & !KNOWN_FLAGS != 0 {
            return Err(FrameError::UnknownFlags { bits: flags & !KNOWN_FLAGS });
        }
        if bytes[7] != 0 {
            return Err(FrameError::ReservedByte { value: bytes[7] });
        }
        let payload_len = read_u32(bytes, 16);
        if payload_len as u64 > max_payload as u64 {
            return Err(FrameError::TooLarge { len: payload_len as u64, max: max_payload as u64 });
        }
        Ok(Header {
            version,
            kind: bytes[5],
            flags,
            channel: read_u32(bytes, 8),
            source: read_u32(bytes, 12),
            payload_len,
            crc32: read_u32(bytes, CRC_OFFSET),
        })
    }

    /// Total encoded length of the frame this header announces (header + payload).
    pub fn frame_len(&self) -> usize {
        HEADER_LEN + self.payload_len as usize
    }
}

/// Why a byte string is not a valid frame (or a frame cannot be encoded).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than the header (or the header + announced payload) need.
    #[error("truncated frame: {got} bytes where {needed} are needed")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// More bytes than the header announces.
    #[error("frame has {extra} trailing bytes after the announced payload")]
    TrailingBytes {
        /// Number of unexpected bytes.
        extra: usize,
    },
    /// The first four bytes are not [`MAGIC`].
    #[error("bad magic bytes {found:02x?} (expected {:02x?} \"D4RF\"): not a dispel4rs frame", MAGIC)]
    BadMagic {
        /// The bytes found.
        found: [u8; 4],
    },
    /// A format version this build does not speak.
    #[error("unsupported frame format version {found} (this build speaks version {supported})")]
    UnsupportedVersion {
        /// Version in the frame.
        found: u8,
        /// Version of this build.
        supported: u8,
    },
    /// Flag bits this version does not know.
    #[error("unknown flag bits {bits:#04x} in frame header")]
    UnknownFlags {
        /// The unknown bits.
        bits: u8,
    },
    /// The reserved header byte is not zero.
    #[error("reserved header byte is {value:#04x}, must be 0")]
    ReservedByte {
        /// The value found.
        value: u8,
    },
    /// The payload is larger than the limit (checked before any allocation).
    #[error("frame payload of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Announced or actual payload length.
        len: u64,
        /// The limit in force.
        max: u64,
    },
    /// The CRC in the header does not match the bytes.
    #[error("frame checksum mismatch: header says {expected:#010x}, bytes give {computed:#010x}")]
    BadChecksum {
        /// CRC stored in the header.
        expected: u32,
        /// CRC computed over the received bytes.
        computed: u32,
    },
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn checksum(header_prefix: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header_prefix);
    hasher.update(payload);
    hasher.finalize()
}

/// Low-level encoder: appends one frame with explicit `flags` to `out`.
///
/// Fails only if the payload does not fit the 32-bit length field or `flags` holds unknown bits.
/// Most callers want [`Frame::encode_into`].
pub fn encode_parts(
    out: &mut Vec<u8>,
    kind: u8,
    flags: u8,
    channel: u32,
    source: u32,
    payload: &[u8],
) -> Result<(), FrameError> {
    if flags & !KNOWN_FLAGS != 0 {
        return Err(FrameError::UnknownFlags { bits: flags & !KNOWN_FLAGS });
    }
    let len = u32::try_from(payload.len())
        .map_err(|_| FrameError::TooLarge { len: payload.len() as u64, max: u32::MAX as u64 })?;
    let start = out.len();
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[FORMAT_VERSION, kind, flags, 0]);
    out.extend_from_slice(&channel.to_le_bytes());
    out.extend_from_slice(&source.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    let crc = checksum(&out[start..start + CRC_OFFSET], payload);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

impl Frame {
    /// A frame with `source` 0 (transports stamp the real sender id when sending).
    pub fn new(kind: u8, channel: u32, payload: Vec<u8>) -> Frame {
        Frame { kind, channel, source: 0, payload }
    }

    /// Number of bytes [`Frame::encode`] produces.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }

    /// Appends the encoded frame (header + payload) to `out`, with `self.source` as source.
    ///
    /// Fails only if the payload is longer than `u32::MAX` bytes.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), FrameError> {
        encode_parts(out, self.kind, 0, self.channel, self.source, &self.payload)
    }

    /// Encodes the frame into a new vector. Fails only if the payload is longer than `u32::MAX`.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

/// Decodes exactly one frame occupying all of `bytes`, accepting payloads up to `max_payload`
/// bytes. Control frames are returned like any other; use [`decode_with_header`] to see flags.
pub fn decode(bytes: &[u8], max_payload: usize) -> Result<Frame, FrameError> {
    decode_with_header(bytes, max_payload).map(|(_, frame)| frame)
}

/// Like [`decode`], also returning the parsed [`Header`] (flags, stored CRC).
///
/// Allocates only the payload, and only after every check has passed, so the largest allocation
/// is `max_payload` bytes whatever the input.
pub fn decode_with_header(bytes: &[u8], max_payload: usize) -> Result<(Header, Frame), FrameError> {
    let header = Header::parse(bytes, max_payload)?;
    let needed = header.frame_len();
    if bytes.len() < needed {
        return Err(FrameError::Truncated { needed, got: bytes.len() });
    }
    if bytes.len() > needed {
        return Err(FrameError::TrailingBytes { extra: bytes.len() - needed });
    }
    let payload = &bytes[HEADER_LEN..];
    let computed = checksum(&bytes[..CRC_OFFSET], payload);
    if computed != header.crc32 {
        return Err(FrameError::BadChecksum { expected: header.crc32, computed });
    }
    let frame = Frame {
        kind: header.kind,
        channel: header.channel,
        source: header.source,
        payload: payload.to_vec(),
    };
    Ok((header, frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Frame {
        Frame { kind: 7, channel: 0x0102_0304, source: 5, payload: b"hello".to_vec() }
    }

    #[test]
    fn round_trip_keeps_every_field() {
        let f = sample();
        let bytes = f.encode().unwrap();
        assert_eq!(bytes.len(), f.encoded_len());
        assert_eq!(decode(&bytes, 1024).unwrap(), f);
        let empty = Frame::new(255, u32::MAX, Vec::new());
        assert_eq!(decode(&empty.encode().unwrap(), 0).unwrap(), empty);
    }

    #[test]
    fn header_bytes_are_pinned() {
        // The wire format: changing any of these bytes is a format version change.
        let bytes = sample().encode().unwrap();
        let expected_header: [u8; 20] = [
            b'D', b'4', b'R', b'F', // magic
            1, 7, 0, 0, // version, kind, flags, reserved
            0x04, 0x03, 0x02, 0x01, // channel (LE)
            5, 0, 0, 0, // source
            5, 0, 0, 0, // payload length
        ];
        assert_eq!(&bytes[..20], &expected_header);
        let mut h = crc32fast::Hasher::new();
        h.update(&expected_header);
        h.update(b"hello");
        assert_eq!(&bytes[20..24], &h.finalize().to_le_bytes());
        // CRC-32/IEEE pinned independently of crc32fast: check value of "123456789".
        assert_eq!(checksum(b"1234", b"56789"), 0xCBF4_3926);
        assert_eq!(&bytes[24..], b"hello");
    }

    #[test]
    fn encode_into_appends() {
        let mut out = vec![9, 9];
        sample().encode_into(&mut out).unwrap();
        assert_eq!(&out[..2], &[9, 9]);
        assert_eq!(decode(&out[2..], 64).unwrap(), sample());
    }

    #[test]
    fn each_corruption_has_its_error() {
        let good = sample().encode().unwrap();
        assert!(matches!(decode(&good[..10], 64), Err(FrameError::Truncated { needed: 24, got: 10 })));
        assert!(matches!(
            decode(&good[..good.len() - 1], 64),
            Err(FrameError::Truncated { needed: 29, got: 28 })
        ));
        let mut long = good.clone();
        long.push(0);
        assert_eq!(decode(&long, 64), Err(FrameError::TrailingBytes { extra: 1 }));
        let mut m = good.clone();
        m[0] = b'X';
        assert!(matches!(decode(&m, 64), Err(FrameError::BadMagic { .. })));
        let mut v = good.clone();
        v[4] = 2;
        assert_eq!(decode(&v, 64), Err(FrameError::UnsupportedVersion { found: 2, supported: 1 }));
        let mut fl = good.clone();
        fl[6] = 0x80;
        assert_eq!(decode(&fl, 64), Err(FrameError::UnknownFlags { bits: 0x80 }));
        let mut r = good.clone();
        r[7] = 1;
        assert_eq!(decode(&r, 64), Err(FrameError::ReservedByte { value: 1 }));
        assert_eq!(decode(&good, 4), Err(FrameError::TooLarge { len: 5, max: 4 }));
        let mut c = good.clone();
        c[26] ^= 1;
        assert!(matches!(decode(&c, 64), Err(FrameError::BadChecksum { .. })));
        let mut ch = good.clone();
        ch[8] ^= 1; // the CRC covers the header too
        assert!(matches!(decode(&ch, 64), Err(FrameError::BadChecksum { .. })));
    }

    #[test]
    fn huge_announced_length_is_refused_from_the_header_alone() {
        let mut h = sample().encode().unwrap();
        h.truncate(HEADER_LEN);
        h[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        let err = Header::parse(&h, DEFAULT_MAX_PAYLOAD).unwrap_err();
        assert_eq!(err, FrameError::TooLarge { len: u32::MAX as u64, max: DEFAULT_MAX_PAYLOAD as u64 });
        assert!(err.to_string().contains("exceeds the limit"), "{err}");
    }

    #[test]
    fn control_flag_is_visible_in_the_header() {
        let mut out = Vec::new();
        encode_parts(&mut out, 1, FLAG_CONTROL, 0, 3, &[]).unwrap();
        let (h, f) = decode_with_header(&out, 0).unwrap();
        assert!(h.is_control());
        assert_eq!(f.source, 3);
        assert!(!decode_with_header(&sample().encode().unwrap(), 64).unwrap().0.is_control());
        assert!(encode_parts(&mut out, 1, 0x40, 0, 3, &[]).is_err());
    }

    #[test]
    fn error_messages_are_clear() {
        let e = FrameError::BadMagic { found: *b"GET " };
        assert!(e.to_string().contains("not a dispel4rs frame"), "{e}");
        let e = FrameError::UnsupportedVersion { found: 9, supported: 1 };
        assert_eq!(e.to_string(), "unsupported frame format version 9 (this build speaks version 1)");
    }
}
