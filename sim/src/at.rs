//! A V.250 / Hayes command interpreter: pure (no I/O, no clock, no
//! tasks). The modem feeds it the DTE's bytes in command state and acts on
//! what complete lines ask for: dial, answer, go online, hang up.

mod dial;
mod result;
mod sreg;

use std::fmt::Write as _;

pub use dial::{Dial, DialError, DialStep};
pub use result::{reports_busy, reports_dialtone, ResultCode};
pub use sreg::{SRegError, SRegisters};

use crate::model::Model;

/// The settings that commands change, Z recalls and &W stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub echo: bool,
    pub verbose: bool,
    pub quiet: bool,
    /// X: which result codes are reported (see [`ResultCode::at_level`]).
    pub x: u8,
    /// &C: 0 = DCD always on, 1 = DCD follows the carrier.
    pub dcd_mode: u8,
    /// &D: 0 = ignore DTR, 1 = drop to command state, 2 = hang up,
    /// 3 = reset.
    pub dtr_mode: u8,
    /// &K: flow control (stored; a PTY has no RTS/CTS to act on).
    pub flow: u8,
    pub volume: u8,
    pub speaker: u8,
    /// +VCID / #CID: deliver caller ID between the first and the second
    /// RING (IS-101 formatted presentation). Stored by &W, as IS-101 has
    /// it, so Z and &F turn it back off unless a profile stored it on.
    pub caller_id: bool,
    pub s: SRegisters,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            echo: true,
            verbose: true,
            quiet: false,
            x: 4,
            dcd_mode: 1,
            dtr_mode: 2,
            flow: 3,
            volume: 1,
            speaker: 1,
            caller_id: false,
            s: SRegisters::default(),
        }
    }
}

/// Something a command line asks of the modem besides printing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// H0, Z: put the phone on hook, ending any call.
    Hangup,
    /// H1: take the phone off hook (callers get busy).
    OffHook,
}

/// How a command line ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Then {
    /// Print this result code; the line is done.
    Result(ResultCode),
    /// D: dial; the modem reports the outcome later.
    Dial(Dial),
    /// A: answer.
    Answer,
    /// O: back to online data state.
    Online,
}

/// A command line that was executed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Executed {
    /// The line as received after `AT` (or `A/`), for logs.
    pub line: String,
    /// Information text to print before the result, already framed.
    pub text: Vec<u8>,
    pub effects: Vec<Effect>,
    pub then: Then,
}

/// What one byte from the DTE did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Whether to echo the byte back (E1).
    pub echo: bool,
    pub executed: Option<Executed>,
}

/// A stored profile that is not a clean command line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("profile {line:?}: {reason}")]
pub struct ProfileError {
    pub line: String,
    pub reason: &'static str,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scan {
    /// Waiting for `A`; everything else is ignored.
    Idle,
    /// Saw `A` (or `a`); `T` of the same case starts a line, `/` repeats.
    SawA { lower: bool },
    /// Collecting a command line until S3.
    Line,
}

/// One modem's command state: settings, the line being typed, the last
/// line (for `A/`).
#[derive(Clone, Debug)]
pub struct Interpreter {
    model: &'static Model,
    factory: Settings,
    stored: Settings,
    active: Settings,
    scan: Scan,
    buf: Vec<u8>,
    overflow: bool,
    last: Vec<u8>,
    last_dial: Option<Dial>,
    /// The register that `?` and `=` without a number refer to.
    selected: u32,
}

type Fail = ();

impl Interpreter {
    /// A modem at power-on: factory settings of `model`, then the stored
    /// profile (what &W would have saved), e.g. `"S0=1 &D0"`.
    pub fn new(model: &'static Model, profile: Option<&str>) -> Result<Interpreter, ProfileError> {
        let mut me = Interpreter {
            model,
            factory: Settings::default(),
            stored: Settings::default(),
            active: Settings::default(),
            scan: Scan::Idle,
            buf: Vec::new(),
            overflow: false,
            last: Vec::new(),
            last_dial: None,
            selected: 0,
        };
        me.apply_profile(model.factory)?;
        me.factory = me.active.clone();
        if let Some(p) = profile {
            me.apply_profile(p)?;
        }
        me.stored = me.active.clone();
        Ok(me)
    }

    fn apply_profile(&mut self, line: &str) -> Result<(), ProfileError> {
        let err = |reason| ProfileError {
            line: line.to_string(),
            reason,
        };
        let body = line.trim();
        let body = body
            .strip_prefix("AT")
            .or_else(|| body.strip_prefix("at"))
            .unwrap_or(body);
        let bytes: Vec<u8> = body.bytes().filter(|b| *b != b' ').collect();
        let done = self.execute_line(&bytes);
        if done.then != Then::Result(ResultCode::Ok) {
            return Err(err("not a list of settings that ends in OK"));
        }
        if !done.effects.is_empty() {
            return Err(err("hangs up or goes off hook"));
        }
        Ok(())
    }

    pub fn model(&self) -> &'static Model {
        self.model
    }

    pub fn settings(&self) -> &Settings {
        &self.active
    }

    /// S1 is the modem's to count, not the DTE's.
    pub fn set_ring_count(&mut self, n: u8) {
        self.active.s.set_ring_count(n);
    }

    /// The effect of a soft reset (Z, or a DTR drop under &D3).
    pub fn reset(&mut self) {
        self.active = self.stored.clone();
        self.clear_line();
    }

    /// Forgets a half-typed line (the DTE went away).
    pub fn clear_line(&mut self) {
        self.scan = Scan::Idle;
        self.buf.clear();
        self.overflow = false;
    }

    /// Whether the modem listens for dial tone before dialing `dial`:
    /// X2 and X4 do, and `W` asks for it at any level.
    pub fn detects_dialtone(&self, dial: &Dial) -> bool {
        reports_dialtone(self.active.x) || dial.waits_for_dialtone()
    }

    /// One byte from the DTE in command state.
    pub fn feed(&mut self, b: u8) -> Step {
        let mut step = Step {
            echo: self.active.echo,
            executed: None,
        };
        let s = &self.active.s;
        let (cr, bs) = (s.cr(), s.bs());
        match self.scan {
            Scan::Idle => {
                if b == b'A' || b == b'a' {
                    self.scan = Scan::SawA { lower: b == b'a' };
                }
            }
            Scan::SawA { lower } => {
                let t = if lower { b't' } else { b'T' };
                if b == t {
                    self.scan = Scan::Line;
                    self.buf.clear();
                    self.overflow = false;
                } else if b == b'/' {
                    self.scan = Scan::Idle;
                    let line = self.last.clone();
                    let mut done = self.execute_line(&line);
                    done.line = format!("A/ ({})", done.line);
                    step.executed = Some(done);
                } else if b == b'A' || b == b'a' {
                    self.scan = Scan::SawA { lower: b == b'a' };
                } else {
                    self.scan = Scan::Idle;
                }
            }
            Scan::Line => {
                if b == cr {
                    self.scan = Scan::Idle;
                    step.executed = Some(self.end_line());
                } else if b == bs {
                    // The AT itself cannot be taken back.
                    self.buf.pop();
                } else if b <= b' ' || b == 0x7f {
                    // Spaces and other control characters do not count.
                } else if self.buf.len() >= self.model.max_line {
                    self.overflow = true;
                } else {
                    self.buf.push(b);
                }
            }
        }
        step
    }

    fn end_line(&mut self) -> Executed {
        let line = std::mem::take(&mut self.buf);
        if std::mem::take(&mut self.overflow) {
            return Executed {
                line: format!("{}... (too long)", printable(&line)),
                text: Vec::new(),
                effects: Vec::new(),
                then: Then::Result(ResultCode::Error),
            };
        }
        self.last.clone_from(&line);
        self.execute_line(&line)
    }

    /// Executes the commands of one line (what followed `AT`), left to
    /// right; the first that fails ends the line with ERROR, and the ones
    /// before it keep their effect.
    pub fn execute_line(&mut self, line: &[u8]) -> Executed {
        let upper: Vec<u8> = line.to_ascii_uppercase();
        let mut p = Parser { s: &upper, i: 0 };
        let mut text = Vec::new();
        let mut effects = Vec::new();
        let then = loop {
            if p.at_end() {
                break Then::Result(ResultCode::Ok);
            }
            match self.command(&mut p, &mut text, &mut effects) {
                Ok(None) => {}
                Ok(Some(then)) => break then,
                Err(()) => break Then::Result(ResultCode::Error),
            }
        };
        Executed {
            line: printable(line),
            text,
            effects,
            then,
        }
    }

    fn command(
        &mut self,
        p: &mut Parser<'_>,
        text: &mut Vec<u8>,
        effects: &mut Vec<Effect>,
    ) -> Result<Option<Then>, Fail> {
        let Some(c) = p.next() else {
            return Ok(Some(Then::Result(ResultCode::Ok)));
        };
        match c {
            b'A' => return Ok(Some(Then::Answer)),
            b'D' => return self.dial(p).map(|d| Some(Then::Dial(d))),
            b'E' => self.active.echo = p.param(1)? == 1,
            b'V' => self.active.verbose = p.param(1)? == 1,
            b'Q' => self.active.quiet = p.param(1)? == 1,
            b'X' => self.active.x = narrow(p.param(4)?),
            b'L' => self.active.volume = narrow(p.param(3)?),
            b'M' => self.active.speaker = narrow(p.param(3)?),
            // Default dial method: tone or pulse; both are fine here.
            b'T' | b'P' => {}
            b'H' => match p.param(1)? {
                0 => effects.push(Effect::Hangup),
                _ => effects.push(Effect::OffHook),
            },
            b'O' => {
                p.param(1)?;
                return Ok(Some(Then::Online));
            }
            b'Z' => {
                p.param(1)?;
                self.active = self.stored.clone();
                effects.push(Effect::Hangup);
            }
            b'I' => {
                let n = p.param(9)?;
                let info = self.model.info[n as usize];
                if !info.is_empty() {
                    self.info(text, info);
                }
            }
            b'S' => {
                self.selected = p.number().ok_or(())?;
                if self.active.s.get(self.selected).is_none() {
                    return Err(());
                }
                match p.peek() {
                    Some(b'?') => {
                        p.next();
                        self.show_register(text)?;
                    }
                    Some(b'=') => {
                        p.next();
                        self.set_register(p)?;
                    }
                    _ => {}
                }
            }
            b'?' => self.show_register(text)?,
            b'=' => self.set_register(p)?,
            b'&' => self.ampersand(p, text)?,
            b'+' => self.extended(p, text)?,
            b'#' => self.rockwell(p, text)?,
            _ => return Err(()),
        }
        Ok(None)
    }

    fn dial(&mut self, p: &mut Parser<'_>) -> Result<Dial, Fail> {
        let mut dial = Dial::parse(p.rest()).map_err(|_| ())?;
        if dial.redial {
            let stay = dial.stay_in_command;
            dial = self.last_dial.clone().ok_or(())?;
            dial.stay_in_command = stay;
        } else {
            self.last_dial = Some(dial.clone());
        }
        Ok(dial)
    }

    fn show_register(&self, text: &mut Vec<u8>) -> Result<(), Fail> {
        let v = self.active.s.get(self.selected).ok_or(())?;
        self.info(text, &format!("{v:03}"));
        Ok(())
    }

    fn set_register(&mut self, p: &mut Parser<'_>) -> Result<(), Fail> {
        let v = p.number().unwrap_or(0);
        self.active.s.set(self.selected, v).map_err(|_| ())
    }

    fn ampersand(&mut self, p: &mut Parser<'_>, text: &mut Vec<u8>) -> Result<(), Fail> {
        match p.next().ok_or(())? {
            b'C' => self.active.dcd_mode = narrow(p.param(1)?),
            b'D' => self.active.dtr_mode = narrow(p.param(3)?),
            b'K' => self.active.flow = narrow(p.param(6)?),
            b'F' => {
                p.param(0)?;
                self.active = self.factory.clone();
            }
            b'W' => {
                p.param(0)?;
                self.stored = self.active.clone();
            }
            b'V' => {
                p.param(0)?;
                let report = format!(
                    "ACTIVE PROFILE:\n{}\nSTORED PROFILE 0:\n{}",
                    profile_text(&self.active),
                    profile_text(&self.stored)
                );
                self.info(text, &report);
            }
            _ => return Err(()),
        }
        Ok(())
    }

    /// `+NAME`, `+NAME?`, `+NAME=?`, `+NAME=value`, separated by `;`.
    fn extended(&mut self, p: &mut Parser<'_>, text: &mut Vec<u8>) -> Result<(), Fail> {
        let name = p.take_while(|c| c.is_ascii_alphabetic());
        // A value runs to the `;` that separates extended commands.
        let form = Form::parse(p, |c| c != b';');
        let model = self.model;
        let identity = match name {
            b"GMI" => Some(model.gmi),
            b"GMM" => Some(model.gmm),
            b"GMR" => Some(model.gmr),
            b"GCAP" => Some(model.gcap),
            _ => None,
        };
        match (name, identity, form) {
            (_, Some(_), Form::Test) => {}
            (_, Some(s), Form::Exec) => self.info(text, s),
            // Data only: class 0 is the one this modem has.
            (b"FCLASS", _, Form::Read | Form::Test) => self.info(text, "0"),
            (b"FCLASS", _, Form::Set(v)) if v == b"0" => {}
            // IS-101 caller ID: 0 off, 1 formatted; 2 (unformatted, the raw
            // packet in hex) is not simulated.
            (b"VCID", _, form) if model.caller_id.vcid => self.caller_id(form, text, "(0,1)")?,
            _ => return Err(()),
        }
        p.eat(b";");
        Ok(())
    }

    /// `#NAME?`, `#NAME=?`, `#NAME=n`: the Rockwell commands; of them only
    /// `#CID`, caller ID, the same setting as +VCID.
    fn rockwell(&mut self, p: &mut Parser<'_>, text: &mut Vec<u8>) -> Result<(), Fail> {
        let name = p.take_while(|c| c.is_ascii_alphabetic());
        let form = Form::parse(p, |c| c.is_ascii_digit());
        match name {
            b"CID" if self.model.caller_id.hash_cid => self.caller_id(form, text, "0,1"),
            _ => Err(()),
        }
    }

    fn caller_id(&mut self, form: Form, text: &mut Vec<u8>, range: &str) -> Result<(), Fail> {
        match form {
            Form::Read => self.info(text, if self.active.caller_id { "1" } else { "0" }),
            Form::Test => self.info(text, range),
            Form::Set(v) if v == b"0" => self.active.caller_id = false,
            Form::Set(v) if v == b"1" => self.active.caller_id = true,
            Form::Set(_) | Form::Exec => return Err(()),
        }
        Ok(())
    }

    /// Frames information text as V.250 does: V1 puts CR LF before and
    /// after, V0 only after.
    fn info(&self, out: &mut Vec<u8>, s: &str) {
        let (cr, lf) = (self.active.s.cr(), self.active.s.lf());
        if self.active.verbose {
            out.extend([cr, lf]);
        }
        for (i, line) in s.split('\n').enumerate() {
            if i > 0 {
                out.extend([cr, lf]);
            }
            out.extend(line.trim_start().as_bytes());
        }
        out.extend([cr, lf]);
    }

    /// A result code as the DTE sees it: nothing under Q1, shaped by the X
    /// level, worded (V1) or numbered (V0).
    pub fn result(&self, code: ResultCode) -> Vec<u8> {
        let s = &self.active;
        if s.quiet {
            return Vec::new();
        }
        let code = code.at_level(s.x);
        let (cr, lf) = (s.s.cr(), s.s.lf());
        if s.verbose {
            let mut out = vec![cr, lf];
            out.extend(code.to_string().as_bytes());
            out.extend([cr, lf]);
            out
        } else {
            let mut out = code.numeric().to_string().into_bytes();
            out.push(cr);
            out
        }
    }
}

enum Form {
    Exec,
    Read,
    Test,
    Set(Vec<u8>),
}

impl Form {
    /// What follows a command's name: `=?`, `?`, `=value` (its octets
    /// those `value` accepts) or nothing.
    fn parse(p: &mut Parser<'_>, value: impl Fn(u8) -> bool) -> Form {
        if p.eat(b"=?") {
            Form::Test
        } else if p.eat(b"?") {
            Form::Read
        } else if p.eat(b"=") {
            Form::Set(p.take_while(value).to_vec())
        } else {
            Form::Exec
        }
    }
}

fn narrow(v: u32) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

fn profile_text(s: &Settings) -> String {
    let mut out = format!(
        "E{} L{} M{} Q{} V{} X{} &C{} &D{} &K{}",
        u8::from(s.echo),
        s.volume,
        s.speaker,
        u8::from(s.quiet),
        u8::from(s.verbose),
        s.x,
        s.dcd_mode,
        s.dtr_mode,
        s.flow
    );
    for (i, (n, v)) in s.s.iter().enumerate() {
        out.push(if i % 8 == 0 { '\n' } else { ' ' });
        let _ = write!(out, "S{n:02}:{v:03}");
    }
    out
}

/// A command line for logs: printable ASCII as is, the rest escaped.
fn printable(line: &[u8]) -> String {
    line.iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, token: &[u8]) -> bool {
        if self.s[self.i..].starts_with(token) {
            self.i += token.len();
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// The rest of the line; the parser is then at its end.
    fn rest(&mut self) -> &'a [u8] {
        let r = &self.s[self.i..];
        self.i = self.s.len();
        r
    }

    /// Decimal digits, if any; values too large for u32 saturate (and so
    /// fail any range check).
    fn number(&mut self) -> Option<u32> {
        let digits = self.take_while(|c| c.is_ascii_digit());
        if digits.is_empty() {
            return None;
        }
        Some(digits.iter().fold(0u32, |acc, d| {
            acc.saturating_mul(10).saturating_add(u32::from(d - b'0'))
        }))
    }

    /// A basic command's parameter: absent means 0; above `max` fails.
    fn param(&mut self, max: u32) -> Result<u32, Fail> {
        let v = self.number().unwrap_or(0);
        if v > max {
            return Err(());
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests;
