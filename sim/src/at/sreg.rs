//! S-registers: the numbered settings of a Hayes modem, with the ranges
//! that real modems enforce (a value outside them is an ERROR).

/// One register: its number, power-on value and the values it accepts.
struct Reg {
    n: u8,
    default: u8,
    min: u8,
    max: u8,
}

const fn reg(n: u8, default: u8, min: u8, max: u8) -> Reg {
    Reg {
        n,
        default,
        min,
        max,
    }
}

const TABLE: [Reg; 15] = [
    reg(0, 0, 0, 255),    // rings before auto-answer; 0 = never
    reg(1, 0, 0, 255),    // rings counted on this call
    reg(2, 43, 0, 255),   // escape character; > 127 disables escape
    reg(3, 13, 0, 127),   // command line end
    reg(4, 10, 0, 127),   // response formatting (line feed)
    reg(5, 8, 0, 127),    // command line editing (backspace)
    reg(6, 2, 2, 255),    // seconds to wait for dial tone (or before blind dialing)
    reg(7, 50, 1, 255),   // seconds to wait for carrier after dialing
    reg(8, 2, 0, 255),    // seconds a comma pauses
    reg(9, 6, 1, 255),    // tenths of a second of carrier before it counts
    reg(10, 14, 1, 255),  // tenths of a second of carrier loss before hang-up
    reg(11, 95, 50, 255), // milliseconds per DTMF tone (and the gap after it)
    reg(12, 50, 0, 255),  // escape guard time, in fiftieths of a second
    reg(25, 5, 0, 255),   // hundredths of a second DTR must stay off
    reg(30, 0, 0, 255),   // inactivity timer (stored, not enforced)
];

/// The values of every register in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SRegisters {
    values: [u8; TABLE.len()],
}

/// Why a register write was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SRegError {
    NoSuchRegister,
    OutOfRange,
}

impl Default for SRegisters {
    fn default() -> Self {
        let mut values = [0; TABLE.len()];
        for (v, r) in values.iter_mut().zip(TABLE.iter()) {
            *v = r.default;
        }
        SRegisters { values }
    }
}

impl SRegisters {
    fn index(n: u32) -> Option<usize> {
        TABLE.iter().position(|r| u32::from(r.n) == n)
    }

    pub fn get(&self, n: u32) -> Option<u8> {
        Self::index(n).map(|i| self.values[i])
    }

    pub fn set(&mut self, n: u32, value: u32) -> Result<(), SRegError> {
        let i = Self::index(n).ok_or(SRegError::NoSuchRegister)?;
        let r = &TABLE[i];
        if value < u32::from(r.min) || value > u32::from(r.max) {
            return Err(SRegError::OutOfRange);
        }
        // In range of a u8 register, so the cast is exact.
        self.values[i] = value as u8;
        Ok(())
    }

    /// Every register number with its value, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u8)> + '_ {
        TABLE.iter().zip(self.values.iter()).map(|(r, v)| (r.n, *v))
    }

    /// A register that is always in the table; the getters below name them.
    fn fixed(&self, n: u8) -> u8 {
        self.get(u32::from(n)).unwrap_or(0)
    }

    pub fn rings_to_answer(&self) -> u8 {
        self.fixed(0)
    }
    pub fn ring_count(&self) -> u8 {
        self.fixed(1)
    }
    pub fn set_ring_count(&mut self, n: u8) {
        if let Some(i) = Self::index(1) {
            self.values[i] = n;
        }
    }
    pub fn escape_char(&self) -> u8 {
        self.fixed(2)
    }
    pub fn cr(&self) -> u8 {
        self.fixed(3)
    }
    pub fn lf(&self) -> u8 {
        self.fixed(4)
    }
    pub fn bs(&self) -> u8 {
        self.fixed(5)
    }
    pub fn dialtone_wait_s(&self) -> u8 {
        self.fixed(6)
    }
    pub fn carrier_wait_s(&self) -> u8 {
        self.fixed(7)
    }
    pub fn comma_pause_s(&self) -> u8 {
        self.fixed(8)
    }
    pub fn dtmf_ms(&self) -> u8 {
        self.fixed(11)
    }
    /// In fiftieths of a second.
    pub fn guard_time(&self) -> u8 {
        self.fixed(12)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_hayes_ones() {
        let s = SRegisters::default();
        assert_eq!(s.get(0), Some(0));
        assert_eq!(s.get(2), Some(43));
        assert_eq!(s.get(3), Some(13));
        assert_eq!(s.get(4), Some(10));
        assert_eq!(s.get(5), Some(8));
        assert_eq!(s.get(6), Some(2));
        assert_eq!(s.get(7), Some(50));
        assert_eq!(s.get(8), Some(2));
        assert_eq!(s.get(10), Some(14));
        assert_eq!(s.get(12), Some(50));
        assert_eq!(s.get(13), None);
    }

    #[test]
    fn ranges_are_enforced() {
        let mut s = SRegisters::default();
        assert_eq!(s.set(7, 0), Err(SRegError::OutOfRange));
        assert_eq!(s.set(7, 256), Err(SRegError::OutOfRange));
        assert_eq!(s.set(3, 128), Err(SRegError::OutOfRange));
        assert_eq!(s.set(6, 1), Err(SRegError::OutOfRange));
        assert_eq!(s.set(99, 1), Err(SRegError::NoSuchRegister));
        assert_eq!(s.set(7, 30), Ok(()));
        assert_eq!(s.carrier_wait_s(), 30);
        s.set_ring_count(3);
        assert_eq!(s.ring_count(), 3);
    }
}
