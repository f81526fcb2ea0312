//! TCP headers (RFC 793 §3.1) and the ports TCP and UDP (RFC 768) share.

/// The control flags.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PUSH: u8 = 0x08;
pub const ACK: u8 = 0x10;
pub const URG: u8 = 0x20;

/// Where the fields a header rewriter changes stand.
pub const SEQ_AT: usize = 4;
pub const ACK_AT: usize = 8;
pub const DATA_OFFSET_AT: usize = 12;
pub const FLAGS_AT: usize = 13;
pub const WINDOW_AT: usize = 14;
pub const CHECKSUM_AT: usize = 16;
pub const URGENT_AT: usize = 18;

/// The fixed 20 octets of a TCP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeader {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    /// As the Data Offset states it, held against nothing: options and
    /// data follow it only if it is 20 or more and fits.
    pub header_len: usize,
    pub flags: u8,
    pub window: u16,
    pub checksum: u16,
    pub urgent: u16,
}

/// The TCP header at the start of `t`, if at least its fixed part arrived.
pub fn tcp_header(t: &[u8]) -> Option<TcpHeader> {
    let t = t.get(..20)?;
    let be16 = |at: usize| u16::from_be_bytes([t[at], t[at + 1]]);
    let be32 = |at: usize| u32::from_be_bytes([t[at], t[at + 1], t[at + 2], t[at + 3]]);
    Some(TcpHeader {
        sport: be16(0),
        dport: be16(2),
        seq: be32(SEQ_AT),
        ack: be32(ACK_AT),
        header_len: usize::from(t[DATA_OFFSET_AT] >> 4) * 4,
        flags: t[FLAGS_AT],
        window: be16(WINDOW_AT),
        checksum: be16(CHECKSUM_AT),
        urgent: be16(URGENT_AT),
    })
}

/// The source and destination ports of a TCP or UDP header at the start
/// of `l4`, if it is long enough to hold them.
pub fn ports(l4: &[u8]) -> Option<(u16, u16)> {
    let p = l4.get(..4)?;
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_are_where_rfc_793_puts_them() {
        let t = [
            0,
            22,
            0x9c,
            0x40,
            0,
            0,
            0,
            7,
            0,
            0,
            1,
            0,
            0x60,
            SYN | ACK,
            0x20,
            0,
            0xab,
            0xcd,
            0,
            3,
            9,
        ];
        let h = tcp_header(&t).unwrap();
        assert_eq!((h.sport, h.dport, h.seq, h.ack), (22, 40000, 7, 256));
        assert_eq!((h.header_len, h.flags), (24, SYN | ACK));
        assert_eq!((h.window, h.checksum, h.urgent), (0x2000, 0xabcd, 3));
        assert_eq!(tcp_header(&t[..19]), None);
        assert_eq!(ports(&t[..4]), Some((22, 40000)));
        assert_eq!(ports(&t[..3]), None);
    }
}
