//! What Deflate and BSD-Compress datagrams share on the wire: the 2-octet
//! sequence number before the data, and the ways decompressing one fails.
//! Both methods use it, and so does the type that holds either.

/// Why a compressed datagram could not be decompressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    /// A packet was lost or damaged in between: a Reset-Request makes the
    /// peer start afresh (RFC 1962 §2.1; pppd's DECOMP_ERROR).
    #[error("sequence number {got}, expected {expected}")]
    Sequence { expected: u16, got: u16 },
    #[error("too short to hold a protocol")]
    Short,
    /// The data is not what the method makes: the dictionaries are out of
    /// step for good (pppd's DECOMP_FATALERROR takes CCP down).
    #[error("corrupt compressed data")]
    Corrupt,
    /// More than the MRU would come out.
    #[error("decompresses past the MRU")]
    TooLong,
}

impl DecompressError {
    /// pppd's split: errors seen before decompressing are mended by a
    /// reset; errors in the data itself take CCP down.
    pub fn is_fatal(self) -> bool {
        matches!(self, DecompressError::Corrupt | DecompressError::TooLong)
    }
}

/// Splits a compressed datagram's 2-octet sequence number (RFC 1977 §2.3,
/// RFC 1979 §2.2) from its data and checks it against `expected`.
pub fn take_sequence(info: &[u8], expected: u16) -> Result<&[u8], DecompressError> {
    let [hi, lo, data @ ..] = info else {
        return Err(DecompressError::Short);
    };
    let got = u16::from_be_bytes([*hi, *lo]);
    if got != expected {
        return Err(DecompressError::Sequence { expected, got });
    }
    Ok(data)
}
