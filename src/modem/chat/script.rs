//! Parsing chat(8) scripts: chat's file syntax and argument lists, the
//! keywords, sub-expects and `@file` sends.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{ChatError, ParseError};
use super::escape::clean;
use super::{DEFAULT_TIMEOUT, STR_LEN};

/// ABORT and REPORT strings must fit chat.c's `fail_buffer[50]` with its
/// NUL.
const FAIL_BUFFER: usize = 50;

/// One alternative of an expect string: `expect[-reply[-expect...]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubExpect {
    /// The string to wait for, escapes decoded; empty means "nothing".
    pub expect: Vec<u8>,
    /// Sent if `expect` times out, as written in the script (decoded when
    /// sent, like any send string). Without one a timeout ends the script.
    pub reply: Option<Vec<u8>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Wait for the first alternative; on timeout send its reply and wait
    /// for the next. No alternatives: expect nothing (`''`).
    Expect(Vec<SubExpect>),
    /// A send string as written (escapes and `\T` are decoded when sent).
    Send(Vec<u8>),
    Abort(Vec<u8>),
    ClrAbort(Vec<u8>),
    Report(Vec<u8>),
    ClrReport(Vec<u8>),
    Timeout(Duration),
    Echo(bool),
    /// HANGUP ON (true: a hangup ends the script) or OFF.
    Hangup(bool),
    /// A SAY string as written (decoded when said, `\T` included).
    Say(Vec<u8>),
}

/// A parsed script, and the contents of the `@file` sends it names once
/// [`Script::load_files`] has read them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    pub(super) steps: Vec<Step>,
    pub(super) files: HashMap<PathBuf, Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keyword {
    Hangup,
    Abort,
    ClrAbort,
    Report,
    ClrReport,
    Timeout,
    Echo,
    Say,
}

/// Keywords are recognised only where an expect string would be, and by
/// exact, case-sensitive comparison (chat_expect() in chat.c).
fn keyword(token: &[u8]) -> Option<Keyword> {
    Some(match token {
        b"HANGUP" => Keyword::Hangup,
        b"ABORT" => Keyword::Abort,
        b"CLR_ABORT" => Keyword::ClrAbort,
        b"REPORT" => Keyword::Report,
        b"CLR_REPORT" => Keyword::ClrReport,
        b"TIMEOUT" => Keyword::Timeout,
        b"ECHO" => Keyword::Echo,
        b"SAY" => Keyword::Say,
        _ => return None,
    })
}

impl Script {
    /// A script in chat's file syntax (`chat -f`): strings separated by
    /// blanks, quoted with `'` or `"` (a backslash inside quotes keeps the
    /// next character, quote included, for the escape decoder), lines
    /// starting with `#` ignored, pairs continuing across lines.
    pub fn parse(text: &str) -> Result<Script, ParseError> {
        Script::parse_bytes(text.as_bytes())
    }

    pub fn parse_bytes(text: &[u8]) -> Result<Script, ParseError> {
        Script::from_tokens(tokenize(text)?)
    }

    /// A script given as separate arguments, as on chat's command line
    /// (the shell has already removed the quotes).
    pub fn from_args<I, S>(args: I) -> Result<Script, ParseError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        Script::from_tokens(args.into_iter().map(|a| c_string(a.as_ref())).collect())
    }

    fn from_tokens(tokens: Vec<Vec<u8>>) -> Result<Script, ParseError> {
        let mut steps = Vec::new();
        let mut it = tokens.into_iter();
        while let Some(expect) = it.next() {
            let send = it.next();
            match keyword(&expect) {
                // A keyword without its argument does nothing in chat.
                Some(kw) => {
                    if let Some(arg) = send {
                        steps.push(keyword_step(kw, &arg)?);
                    }
                }
                None => {
                    steps.push(Step::Expect(parse_expect(&expect)?));
                    if let Some(send) = send {
                        steps.push(Step::Send(send));
                    }
                }
            }
        }
        Ok(Script {
            steps,
            files: HashMap::new(),
        })
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The files that `@file` send strings name.
    pub fn files_needed(&self) -> Vec<PathBuf> {
        let mut paths = Vec::new();
        let mut add = |raw: &[u8]| {
            if let Some(p) = file_send(raw) {
                if !paths.contains(&p) {
                    paths.push(p);
                }
            }
        };
        for step in &self.steps {
            match step {
                Step::Send(raw) => add(raw),
                Step::Expect(alts) => alts
                    .iter()
                    .filter_map(|a| a.reply.as_deref())
                    .for_each(&mut add),
                _ => {}
            }
        }
        paths
    }

    /// Reads the `@file` sends through `read` (chat reads them when it
    /// gets to them; reading first keeps the interpreter free of I/O, at
    /// the cost of a FIFO being read before the script starts).
    pub fn load_files<F>(&mut self, mut read: F) -> Result<(), ChatError>
    where
        F: FnMut(&Path) -> io::Result<Vec<u8>>,
    {
        for path in self.files_needed() {
            let contents = read(&path).map_err(|e| ChatError::File {
                path: path.clone(),
                message: format!("open failed: {e}"),
            })?;
            self.provide_file(path, contents);
        }
        Ok(())
    }

    /// Supplies one `@file`'s contents. Like chat: at most 1023 bytes,
    /// without a final newline, up to the first NUL.
    pub fn provide_file(&mut self, path: PathBuf, mut contents: Vec<u8>) {
        contents.truncate(STR_LEN - 1);
        if contents.last() == Some(&b'\n') {
            contents.pop();
        }
        self.files.insert(path, c_string(&contents));
    }
}

/// The file an `@file` send names: what follows `@` and any blanks, if
/// anything does (a lone `@` is sent as is).
pub(super) fn file_send(raw: &[u8]) -> Option<PathBuf> {
    let rest = raw.strip_prefix(b"@")?;
    let start = rest.iter().position(|&b| b != b' ' && b != b'\t')?;
    Some(PathBuf::from(OsStr::from_bytes(&rest[start..])))
}

/// Strings in chat are C strings: a NUL ends them.
fn c_string(s: &[u8]) -> Vec<u8> {
    let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
    s[..end].to_vec()
}

/// chat.c's do_file(), line by line.
fn tokenize(text: &[u8]) -> Result<Vec<Vec<u8>>, ParseError> {
    let mut tokens = Vec::new();
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
        // A comment only in column 1; quote an expect string that starts
        // with '#'.
        if line.first() == Some(&b'#') {
            continue;
        }
        let mut i = 0;
        while i < line.len() {
            let c = line[i];
            if c == b' ' || c == b'\t' {
                i += 1;
                continue;
            }
            if c == b'"' || c == b'\'' {
                i += 1;
                let start = i;
                loop {
                    match line.get(i) {
                        None => return Err(ParseError::UnterminatedQuote { line: n + 1 }),
                        Some(&q) if q == c => break,
                        Some(b'\\') => i += if i + 1 < line.len() { 2 } else { 1 },
                        Some(_) => i += 1,
                    }
                }
                tokens.push(line[start..i].to_vec());
                // The closing quote ends the string; whatever follows
                // it starts the next one, even with no blank between.
                i += 1;
            } else {
                let start = i;
                while i < line.len() && line[i] != b' ' && line[i] != b'\t' {
                    i += 1;
                }
                tokens.push(line[start..i].to_vec());
                i += 1;
            }
        }
    }
    Ok(tokens)
}

fn keyword_step(kw: Keyword, arg: &[u8]) -> Result<Step, ParseError> {
    let checked = |name: &'static str| {
        let s = clean(arg, false, None, None).bytes;
        if s.len() + 1 > FAIL_BUFFER {
            Err(ParseError::TooLong {
                keyword: name,
                string: String::from_utf8_lossy(arg).into_owned(),
            })
        } else {
            Ok(s)
        }
    };
    Ok(match kw {
        Keyword::Abort => Step::Abort(checked("ABORT")?),
        Keyword::ClrAbort => Step::ClrAbort(checked("CLR_ABORT")?),
        Keyword::Report => Step::Report(checked("REPORT")?),
        Keyword::ClrReport => Step::ClrReport(checked("CLR_REPORT")?),
        Keyword::Timeout => {
            let secs = atoi(&clean(arg, false, None, None).bytes);
            Step::Timeout(if secs <= 0 {
                DEFAULT_TIMEOUT
            } else {
                Duration::from_secs(secs as u64)
            })
        }
        // chat compares the raw argument: only exactly "ON" / "OFF" count.
        Keyword::Echo => Step::Echo(arg == b"ON"),
        Keyword::Hangup => Step::Hangup(arg != b"OFF"),
        Keyword::Say => Step::Say(arg.to_vec()),
    })
}

/// C's atoi(): leading blanks, a sign, digits; saturating instead of
/// undefined on overflow.
fn atoi(s: &[u8]) -> i64 {
    let mut i = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .unwrap_or(s.len());
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut v: i64 = 0;
    while let Some(d @ b'0'..=b'9') = s.get(i) {
        v = v.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        i += 1;
    }
    // atoi returns an int; past its range C leaves the result undefined.
    let v = v.min(i64::from(i32::MAX));
    if neg {
        -v
    } else {
        v
    }
}

/// Splits `expect-reply-expect...` on dashes not escaped by a backslash,
/// with chat.c's expect_strtok() semantics: an empty remainder yields
/// nothing, an empty field yields an empty string.
fn parse_expect(token: &[u8]) -> Result<Vec<SubExpect>, ParseError> {
    let mut pos = 0;
    let mut next = || -> Option<&[u8]> {
        if pos >= token.len() {
            return None;
        }
        let start = pos;
        let mut escaped = false;
        while pos < token.len() {
            let c = token[pos];
            pos += 1;
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'-' {
                return Some(&token[start..pos - 1]);
            }
        }
        Some(&token[start..])
    };
    let mut alts = Vec::new();
    while let Some(expect) = next() {
        let reply = next().map(<[u8]>::to_vec);
        let expect = clean(expect, false, None, None).bytes;
        if expect.len() > STR_LEN {
            return Err(ParseError::ExpectTooLong { len: expect.len() });
        }
        let last = reply.is_none();
        alts.push(SubExpect { expect, reply });
        if last {
            break;
        }
    }
    Ok(alts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect_of(script: &str) -> Vec<SubExpect> {
        match &Script::parse(script).unwrap().steps()[0] {
            Step::Expect(alts) => alts.clone(),
            other => panic!("not an expect: {other:?}"),
        }
    }

    fn sub(expect: &[u8], reply: Option<&[u8]>) -> SubExpect {
        SubExpect {
            expect: expect.to_vec(),
            reply: reply.map(<[u8]>::to_vec),
        }
    }

    // ---- parsing -------------------------------------------------------

    #[test]
    fn file_syntax_tokens() {
        let toks = tokenize(
            b"# a comment\n ABORT 'NO CARRIER'\t\"NO DIAL TONE\"\n  # not a comment\n'abc'def '' \"\"\n'it\\'s'\r\n",
        )
        .unwrap();
        let toks: Vec<&[u8]> = toks.iter().map(Vec::as_slice).collect();
        assert_eq!(
            toks,
            [
                &b"ABORT"[..],
                b"NO CARRIER",
                b"NO DIAL TONE",
                b"#",
                b"not",
                b"a",
                b"comment",
                b"abc",
                b"def",
                b"",
                b"",
                b"it\\'s",
            ]
        );
    }

    #[test]
    fn unterminated_quote_is_exit_1() {
        let err = Script::parse("ABORT BUSY\n'' 'ATZ\n").unwrap_err();
        assert_eq!(err, ParseError::UnterminatedQuote { line: 2 });
        assert_eq!(ChatError::from(err).exit_code(), 1);
        // A backslash at the end of the line does not close it either.
        assert!(Script::parse("'abc\\").is_err());
    }

    #[test]
    fn file_and_args_agree() {
        let file = Script::parse("ABORT BUSY ABORT 'NO CARRIER'\n'' ATZ\nOK ATDT\\T\nCONNECT ''\n")
            .unwrap();
        let args = Script::from_args([
            "ABORT",
            "BUSY",
            "ABORT",
            "NO CARRIER",
            "",
            "ATZ",
            "OK",
            "ATDT\\T",
            "CONNECT",
            "",
        ])
        .unwrap();
        assert_eq!(file, args);
        assert_eq!(
            file.steps(),
            [
                Step::Abort(b"BUSY".to_vec()),
                Step::Abort(b"NO CARRIER".to_vec()),
                Step::Expect(vec![]),
                Step::Send(b"ATZ".to_vec()),
                Step::Expect(vec![sub(b"OK", None)]),
                Step::Send(b"ATDT\\T".to_vec()),
                Step::Expect(vec![sub(b"CONNECT", None)]),
                Step::Send(b"".to_vec()),
            ]
        );
    }

    #[test]
    fn every_keyword() {
        let s = Script::parse(
            "ABORT BUSY CLR_ABORT BUSY REPORT CONNECT CLR_REPORT CONNECT \
             TIMEOUT 10 ECHO ON ECHO OFF ECHO on HANGUP OFF HANGUP ON HANGUP x \
             SAY 'hi\\sthere\\n'",
        )
        .unwrap();
        assert_eq!(
            s.steps(),
            [
                Step::Abort(b"BUSY".to_vec()),
                Step::ClrAbort(b"BUSY".to_vec()),
                Step::Report(b"CONNECT".to_vec()),
                Step::ClrReport(b"CONNECT".to_vec()),
                Step::Timeout(Duration::from_secs(10)),
                Step::Echo(true),
                Step::Echo(false),
                Step::Echo(false),
                Step::Hangup(false),
                Step::Hangup(true),
                Step::Hangup(true),
                Step::Say(b"hi\\sthere\\n".to_vec()),
            ]
        );
    }

    #[test]
    fn timeout_values_like_atoi() {
        let t = |arg: &str| match Script::from_args(["TIMEOUT", arg]).unwrap().steps() {
            [Step::Timeout(d)] => d.as_secs(),
            other => panic!("{other:?}"),
        };
        assert_eq!(t("10"), 10);
        assert_eq!(t(" 7x"), 7);
        assert_eq!(t("+3"), 3);
        assert_eq!(t("0"), 45);
        assert_eq!(t("-5"), 45);
        assert_eq!(t("abc"), 45);
        assert_eq!(t(""), 45);
        assert_eq!(t("99999999999999999999999"), i32::MAX as u64);
    }

    #[test]
    fn keywords_only_in_expect_position() {
        let s = Script::from_args(["OK", "ABORT", "SAY", "x"]).unwrap();
        assert_eq!(
            s.steps(),
            [
                Step::Expect(vec![sub(b"OK", None)]),
                Step::Send(b"ABORT".to_vec()),
                Step::Say(b"x".to_vec()),
            ]
        );
        // Case matters, as in chat.
        let s = Script::from_args(["abort", "BUSY"]).unwrap();
        assert_eq!(s.steps()[0], Step::Expect(vec![sub(b"abort", None)]));
        // A keyword with no argument at the end does nothing.
        let s = Script::from_args(["OK", "ATZ", "ABORT"]).unwrap();
        assert_eq!(s.steps().len(), 2);
    }

    #[test]
    fn abort_and_report_length_limit() {
        let ok = "x".repeat(49);
        let long = "x".repeat(50);
        assert!(Script::from_args(["ABORT", ok.as_str()]).is_ok());
        for kw in ["ABORT", "CLR_ABORT", "REPORT", "CLR_REPORT"] {
            let err = Script::from_args([kw, long.as_str()]).unwrap_err();
            assert!(matches!(err, ParseError::TooLong { keyword, .. } if keyword == kw));
        }
        let huge = "y".repeat(1025);
        assert_eq!(
            Script::from_args([huge.as_str()]).unwrap_err(),
            ParseError::ExpectTooLong { len: 1025 }
        );
        assert!(Script::from_args(["y".repeat(1024)]).is_ok());
    }

    #[test]
    fn sub_expect_splitting() {
        assert_eq!(
            expect_of("ogin:--ogin:"),
            [sub(b"ogin:", Some(b"")), sub(b"ogin:", None)]
        );
        assert_eq!(
            expect_of("ogin:-BREAK-ogin:"),
            [sub(b"ogin:", Some(b"BREAK")), sub(b"ogin:", None)]
        );
        assert_eq!(
            expect_of("a:-b-c:-d-e:"),
            [
                sub(b"a:", Some(b"b")),
                sub(b"c:", Some(b"d")),
                sub(b"e:", None)
            ]
        );
        // An escaped dash belongs to the string.
        assert_eq!(expect_of("a\\-b"), [sub(b"a-b", None)]);
        assert_eq!(expect_of("ogin:-"), [sub(b"ogin:", None)]);
        assert_eq!(expect_of("ogin:-x"), [sub(b"ogin:", Some(b"x"))]);
        assert_eq!(expect_of("-ogin:"), [sub(b"", Some(b"ogin:"))]);
        assert_eq!(expect_of("''"), []);
    }
}
