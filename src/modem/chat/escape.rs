//! chat's escapes (`\b \c \d \K \n \N \p \r \s \t \\ \T \U \q`, octal
//! and `^X`) and how modem output is shown.

pub(super) struct Cleaned {
    pub(super) bytes: Vec<u8>,
    /// `\q`: keep this string out of logs.
    pub(super) quiet: bool,
    /// Whether the final CR was appended (a send string without `\c`).
    pub(super) added_return: bool,
}

/// chat.c's clean(). For an expect string (or a keyword's argument) it
/// returns the literal bytes. For a send string it returns chat's
/// intermediate form, in which a backslash still introduces `\d`, `\p`,
/// `\K`, `\\` or an escaped NUL for put_string() to act on, and a CR is
/// appended unless the string ends in `\c`.
pub(super) fn clean(
    s: &[u8],
    sending: bool,
    phone: Option<&[u8]>,
    phone2: Option<&[u8]>,
) -> Cleaned {
    let mut out = Vec::with_capacity(s.len() + 2);
    let mut add_return = sending;
    let mut quiet = false;
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if c == b'^' {
            let Some(&n) = s.get(i) else {
                out.push(b'^');
                break;
            };
            i += 1;
            // ^@ and the like would be NUL, which a C string cannot hold.
            if n & 0x1f != 0 {
                out.push(n & 0x1f);
            }
            continue;
        }
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = s.get(i) else {
            // A trailing backslash: sent as itself, dropped from an expect.
            if sending {
                out.extend_from_slice(b"\\\\");
            }
            break;
        };
        i += 1;
        match e {
            b'b' => out.push(0x08),
            b'c' => {
                if sending && i == s.len() {
                    add_return = false;
                } else {
                    out.push(b'c');
                }
            }
            b'\\' | b'K' | b'p' | b'd' => {
                if sending {
                    out.push(b'\\');
                }
                out.push(e);
            }
            b'T' | b'U' => match (sending, if e == b'T' { phone } else { phone2 }) {
                (true, Some(number)) => out.extend_from_slice(number),
                _ => out.extend_from_slice(&[b'\\', e]),
            },
            b'q' => quiet = true,
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b's' => out.push(b' '),
            b't' => out.push(b'\t'),
            b'N' => {
                if sending {
                    out.extend_from_slice(&[b'\\', 0]);
                } else {
                    out.push(b'N');
                }
            }
            b'0'..=b'7' => {
                // Up to three octal digits, wrapping as chat's char does.
                let mut v = e - b'0';
                for _ in 0..2 {
                    match s.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = (v << 3) | (d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                if v != 0 || sending {
                    if sending && (v == b'\\' || v == 0) {
                        out.push(b'\\');
                    }
                    out.push(v);
                }
            }
            other => {
                if sending {
                    out.push(b'\\');
                }
                out.push(other);
            }
        }
    }
    if add_return {
        out.push(b'\r');
    }
    Cleaned {
        bytes: out,
        quiet,
        added_return: add_return,
    }
}

/// Renders modem output the way chat's echo and log do: control
/// characters as `^X`, the eighth bit as `M-`, CR dropped.
pub fn visible(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len());
    for &b in bytes {
        if b == b'\r' {
            continue;
        }
        if b & 0x80 != 0 {
            s.push_str("M-");
        }
        match b & 0x7f {
            b'\n' => s.push('\n'),
            c @ 0..=0x1f => {
                s.push('^');
                s.push((c + b'@') as char);
            }
            0x7f => s.push_str("^?"),
            c => s.push(c as char),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exp(s: &[u8]) -> Vec<u8> {
        clean(s, false, None, None).bytes
    }

    #[test]
    fn expect_escapes() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"a\\bb", b"a\x08b"),
            (b"\\r\\n", b"\r\n"),
            (b"HI\\sTIM", b"HI TIM"),
            (b"\\t", b"\t"),
            (b"\\\\", b"\\"),
            // Send-only escapes are literal letters in an expect string.
            (b"\\N\\d\\K\\p\\c", b"NdKpc"),
            (b"\\T\\U", b"\\T\\U"),
            (b"\\q", b""),
            (b"\\101\\60", b"A0"),
            (b"\\0", b""),
            (b"\\777", b"\xff"),
            (b"^M^J", b"\r\n"),
            (b"^Q", b"\x11"),
            (b"^@", b""),
            (b"ab^", b"ab^"),
            (b"ab\\", b"ab"),
            (b"\\x\\'", b"x'"),
        ];
        for (input, output) in cases {
            assert_eq!(exp(input), *output, "{:?}", String::from_utf8_lossy(input));
        }
    }
}
