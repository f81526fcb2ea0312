//! The sans-IO interpreter: runs a parsed script against the modem's
//! output, asking its driver for sends, pauses, breaks and messages.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::error::ChatError;
use super::escape::clean;
use super::script::{file_send, Script, Step, SubExpect};
use super::{DEFAULT_TIMEOUT, STR_LEN};

const MAX_ABORTS: usize = 50;
const MAX_REPORTS: usize = 50;
/// chat.c's `report_buffer[4096]`.
const REPORT_BUFFER: usize = 4096;
/// After the script ends, chat reads the rest of a report line with a
/// one-second alarm per character (terminate() in chat.c).
const REPORT_WAIT: Duration = Duration::from_secs(1);
/// tcsendbreak(fd, 0) holds the line for 0.25 to 0.5 s.
const BREAK_TIME: Duration = Duration::from_millis(500);
/// Modem output kept once the script has ended, for [`Chat::take_remaining`].
const MAX_INPUT: usize = 64 * 1024;

/// How the interpreter sends and waits.
#[derive(Clone, Debug)]
pub struct ChatConfig {
    /// `-t`: the timeout for expect strings until a TIMEOUT keyword.
    /// Zero waits for ever, like chat's `-t 0` (alarm(0)).
    pub timeout: Duration,
    /// `-T`: what `\T` sends.
    pub phone: Option<String>,
    /// `-U`: what `\U` sends.
    pub phone2: Option<String>,
    /// `-e`: echo the modem's output from the start.
    pub echo: bool,
    /// chat sleeps 10 ms before writing each character (put_char());
    /// slow modems rely on it.
    pub char_delay: Duration,
    /// `\d`: one second.
    pub delay: Duration,
    /// `\p`: chat.8 says a tenth of a second, chat.c sleeps 10 ms; we do
    /// what chat does, so that scripts keep their timing.
    pub pause: Duration,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            timeout: DEFAULT_TIMEOUT,
            phone: None,
            phone2: None,
            echo: false,
            char_delay: Duration::from_millis(10),
            delay: Duration::from_secs(1),
            pause: Duration::from_millis(10),
        }
    }
}

/// What the interpreter asks of its driver, in order. Its `Debug` shows
/// a quiet send's length only.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Write `bytes`, waiting `char_delay` before each one. `quiet`: the
    /// script asked (`\q`) that they not be logged.
    Send {
        bytes: Vec<u8>,
        char_delay: Duration,
        quiet: bool,
    },
    /// Wait before the next action (`\d`, `\p`).
    Pause(Duration),
    /// Send a break (`\K`, BREAK).
    Break,
    /// A SAY message for the user.
    Say(String),
    /// A REPORT line: the report string and what followed it up to the
    /// next control character, e.g. `CONNECT 33600/ARQ`.
    Report(String),
    /// HANGUP ON/OFF: whether a hangup (DCD loss, SIGHUP) should end the
    /// script. The interpreter also applies it itself in
    /// [`Chat::handle_hangup`].
    SetHangup(bool),
    /// Modem output to echo (ECHO ON or `-e`), 7-bit as chat reads it.
    Echo(Vec<u8>),
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Send {
                bytes,
                char_delay,
                quiet: true,
            } => f
                .debug_struct("Send")
                .field("bytes", &format_args!("<hidden: {} bytes>", bytes.len()))
                .field("char_delay", char_delay)
                .field("quiet", &true)
                .finish(),
            Action::Send {
                bytes,
                char_delay,
                quiet: false,
            } => f
                .debug_struct("Send")
                .field("bytes", bytes)
                .field("char_delay", char_delay)
                .field("quiet", &false)
                .finish(),
            Action::Pause(d) => f.debug_tuple("Pause").field(d).finish(),
            Action::Break => f.write_str("Break"),
            Action::Say(s) => f.debug_tuple("Say").field(s).finish(),
            Action::Report(s) => f.debug_tuple("Report").field(s).finish(),
            Action::SetHangup(b) => f.debug_tuple("SetHangup").field(b).finish(),
            Action::Echo(b) => f.debug_tuple("Echo").field(b).finish(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Running,
    Success,
    /// The ABORT string at `index` in the current ABORT list was seen.
    Aborted {
        index: usize,
        string: String,
    },
    /// `expect` (the last alternative tried) did not come in time.
    Timeout {
        expect: String,
    },
    Error(ChatError),
}

impl Outcome {
    /// chat's exit status, once there is one.
    pub fn exit_code(&self) -> Option<i32> {
        match self {
            Outcome::Running => None,
            Outcome::Success => Some(0),
            Outcome::Timeout { .. } => Some(3),
            Outcome::Aborted { index, .. } => Some(4 + *index as i32),
            Outcome::Error(e) => Some(e.exit_code()),
        }
    }
}

#[derive(Debug)]
enum State {
    /// Executing steps; never seen between calls.
    Stepping,
    Expecting {
        alts: Vec<SubExpect>,
        idx: usize,
        /// What has come since this expect started (chat.c's temp[]).
        window: Vec<u8>,
        deadline: Option<Instant>,
    },
    /// The script is over; reading the rest of a report line first.
    Finishing {
        result: Outcome,
        deadline: Instant,
    },
    Done,
}

/// A running chat script.
#[derive(Debug)]
pub struct Chat {
    steps: Vec<Step>,
    files: HashMap<PathBuf, Vec<u8>>,
    pc: usize,
    cfg: ChatConfig,
    timeout: Duration,
    aborts: Vec<Vec<u8>>,
    /// A report string that has fired stays as None: chat reports each
    /// one once, and still counts it against MAX_REPORTS.
    reports: Vec<Option<Vec<u8>>>,
    gathering: Option<Vec<u8>>,
    echo: bool,
    hangup: bool,
    state: State,
    outcome: Outcome,
    input: VecDeque<u8>,
    actions: VecDeque<Action>,
    echo_buf: Vec<u8>,
    /// When the actions queued so far will have been carried out: an
    /// expect's timer starts then, as chat's alarm starts after its
    /// writes and sleeps.
    busy_until: Instant,
    dropped: u64,
}

impl Chat {
    /// Starts `script`; the first actions are ready at once.
    pub fn new(script: Script, cfg: ChatConfig, now: Instant) -> Chat {
        let mut chat = Chat {
            steps: script.steps,
            files: script.files,
            pc: 0,
            timeout: cfg.timeout,
            echo: cfg.echo,
            cfg,
            aborts: Vec::new(),
            reports: Vec::new(),
            gathering: None,
            hangup: true,
            state: State::Stepping,
            outcome: Outcome::Running,
            input: VecDeque::new(),
            actions: VecDeque::new(),
            echo_buf: Vec::new(),
            busy_until: now,
            dropped: 0,
        };
        chat.drive(now);
        chat
    }

    /// Bytes from the modem, read at `now`. A deadline already past at
    /// `now` is acted on first: bytes that come after the alarm would
    /// have rung are not matched against the expect that timed out, so
    /// the result depends only on what came when, not on whether the
    /// driver saw the timer or the bytes first.
    pub fn feed(&mut self, bytes: &[u8], now: Instant) {
        self.input.extend(bytes);
        if self.input.len() > MAX_INPUT {
            let excess = self.input.len() - MAX_INPUT;
            self.input.drain(..excess);
            self.dropped += excess as u64;
        }
        self.expire(now);
        self.drive(now);
    }

    /// Call at (or after) [`Chat::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.expire(now);
        self.drive(now);
    }

    fn expire(&mut self, now: Instant) {
        self.busy_until = self.busy_until.max(now);
        match &mut self.state {
            State::Expecting {
                alts,
                idx,
                deadline: Some(d),
                ..
            } if now >= *d => {
                let alt = &alts[*idx];
                match alt.reply.clone() {
                    None => {
                        let expect = String::from_utf8_lossy(&alt.expect).into_owned();
                        self.finish(Outcome::Timeout { expect }, now);
                    }
                    Some(reply) => {
                        let alts = std::mem::take(alts);
                        let next = *idx + 1;
                        match self.send(&reply, now) {
                            Ok(()) => self.begin_expect(alts, next, now),
                            Err(e) => self.finish(Outcome::Error(e), now),
                        }
                    }
                }
            }
            State::Finishing { deadline, .. } if now >= *deadline => self.end_report(),
            _ => {}
        }
    }

    /// The line hung up (DCD dropped, the device went away). Ends the
    /// script with exit code 2 unless HANGUP OFF is in effect, as chat's
    /// SIGHUP handling does.
    pub fn handle_hangup(&mut self, now: Instant) {
        if self.hangup && !matches!(self.state, State::Done) {
            self.gathering_flush();
            self.finish(Outcome::Error(ChatError::Hangup), now);
        }
    }

    /// Reading or writing the port failed: exit code 2.
    pub fn handle_io_error(&mut self, error: impl std::fmt::Display, now: Instant) {
        // Reading the end of a report line: chat stops reading and exits
        // with the status it already had.
        if matches!(self.state, State::Finishing { .. }) {
            self.end_report();
            return;
        }
        if !matches!(self.state, State::Done) {
            self.gathering_flush();
            self.finish(Outcome::Error(ChatError::Io(error.to_string())), now);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Expecting { deadline, .. } => *deadline,
            State::Finishing { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Whether a hangup would currently end the script (HANGUP ON).
    pub fn hangup_enabled(&self) -> bool {
        self.hangup
    }

    /// Modem output the script did not read: after CONNECT, the start of
    /// the PPP stream. Meaningful once [`Chat::is_done`].
    pub fn take_remaining(&mut self) -> Vec<u8> {
        self.input.drain(..).collect()
    }

    /// Bytes thrown away because output piled up after the script ended.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn push(&mut self, action: Action) {
        self.flush_echo();
        self.actions.push_back(action);
    }

    fn flush_echo(&mut self) {
        if !self.echo_buf.is_empty() {
            let bytes = std::mem::take(&mut self.echo_buf);
            self.actions.push_back(Action::Echo(bytes));
        }
    }

    fn drive(&mut self, now: Instant) {
        self.busy_until = self.busy_until.max(now);
        loop {
            match self.state {
                State::Stepping => self.step(now),
                State::Expecting { .. } => match self.input.pop_front() {
                    Some(b) => self.expect_byte(b, now),
                    None => break,
                },
                State::Finishing { .. } => {
                    if self.gathering.as_ref().map_or(0, Vec::len) + 1 >= REPORT_BUFFER {
                        self.end_report();
                        continue;
                    }
                    match self.input.pop_front() {
                        Some(b) => self.finish_byte(b, now),
                        None => break,
                    }
                }
                State::Done => break,
            }
        }
        self.flush_echo();
    }

    fn step(&mut self, now: Instant) {
        let Some(step) = self.steps.get(self.pc).cloned() else {
            self.finish(Outcome::Success, now);
            return;
        };
        self.pc += 1;
        match step {
            Step::Expect(alts) => self.begin_expect(alts, 0, now),
            Step::Send(raw) => {
                if let Err(e) = self.send(&raw, now) {
                    self.finish(Outcome::Error(e), now);
                }
            }
            Step::Abort(s) => {
                if self.aborts.len() >= MAX_ABORTS {
                    self.finish(Outcome::Error(ChatError::TooManyAborts), now);
                } else {
                    self.aborts.push(s);
                }
            }
            Step::ClrAbort(s) => self.aborts.retain(|a| *a != s),
            Step::Report(s) => {
                if self.reports.len() >= MAX_REPORTS {
                    self.finish(Outcome::Error(ChatError::TooManyReports), now);
                } else {
                    self.reports.push(Some(s));
                }
            }
            Step::ClrReport(s) => self.reports.retain(|r| r.as_ref() != Some(&s)),
            Step::Timeout(t) => self.timeout = t,
            Step::Echo(on) => {
                self.flush_echo();
                self.echo = on;
            }
            Step::Hangup(on) => {
                self.hangup = on;
                self.push(Action::SetHangup(on));
            }
            Step::Say(raw) => {
                let text = self.say_text(&raw);
                self.push(Action::Say(text));
            }
        }
    }

    fn begin_expect(&mut self, alts: Vec<SubExpect>, idx: usize, now: Instant) {
        // Past the last alternative (its reply sent), or an empty expect:
        // chat counts that as found.
        if !alts.get(idx).is_some_and(|a| !a.expect.is_empty()) {
            self.state = State::Stepping;
            return;
        }
        // An absurd TIMEOUT that overflows the clock is as good as none.
        let deadline = if self.timeout.is_zero() {
            None
        } else {
            self.busy_until.max(now).checked_add(self.timeout)
        };
        self.state = State::Expecting {
            alts,
            idx,
            window: Vec::new(),
            deadline,
        };
    }

    /// chat.c's get_string() for one character.
    fn expect_byte(&mut self, byte: u8, now: Instant) {
        // chat reads with the eighth bit stripped (get_char(), and ISTRIP
        // on the tty).
        let c = byte & 0x7f;
        if self.echo {
            self.echo_buf.push(c);
        }
        let State::Expecting { window, .. } = &mut self.state else {
            return;
        };
        window.push(c);
        // Keep what the longest string could still need.
        if window.len() > 2 * STR_LEN {
            window.drain(..window.len() - STR_LEN);
        }
        match &mut self.gathering {
            None => {
                if let Some(slot) = self
                    .reports
                    .iter_mut()
                    .find(|r| r.as_ref().is_some_and(|r| window.ends_with(r)))
                {
                    self.gathering = slot.take();
                }
            }
            Some(line) => {
                if is_cntrl(c) {
                    let line = std::mem::take(line);
                    self.gathering = None;
                    self.push_report(line);
                } else if line.len() + 1 < REPORT_BUFFER {
                    line.push(c);
                }
            }
        }
        let State::Expecting {
            alts, idx, window, ..
        } = &mut self.state
        else {
            return;
        };
        if window.ends_with(&alts[*idx].expect) {
            self.state = State::Stepping;
            return;
        }
        if let Some(index) = self.aborts.iter().position(|a| window.ends_with(a)) {
            let string = String::from_utf8_lossy(&self.aborts[index]).into_owned();
            self.finish(Outcome::Aborted { index, string }, now);
        }
    }

    fn push_report(&mut self, line: Vec<u8>) {
        self.push(Action::Report(String::from_utf8_lossy(&line).into_owned()));
    }

    /// The script has its result; chat still reads the rest of a report
    /// line in progress before it exits.
    fn finish(&mut self, result: Outcome, now: Instant) {
        if self.gathering.is_some() {
            self.state = State::Finishing {
                result,
                deadline: now + REPORT_WAIT,
            };
        } else {
            self.done(result);
        }
    }

    fn done(&mut self, result: Outcome) {
        self.flush_echo();
        self.outcome = result;
        self.state = State::Done;
    }

    fn finish_byte(&mut self, byte: u8, now: Instant) {
        let c = byte & 0x7f;
        if is_cntrl(c) {
            self.end_report();
            return;
        }
        if let Some(line) = &mut self.gathering {
            line.push(c);
        }
        if let State::Finishing { deadline, .. } = &mut self.state {
            *deadline = now + REPORT_WAIT;
        }
    }

    fn end_report(&mut self) {
        self.gathering_flush();
        let state = std::mem::replace(&mut self.state, State::Done);
        if let State::Finishing { result, .. } = state {
            self.done(result);
        } else {
            self.state = state;
        }
    }

    /// Reports what has been gathered, as it stands.
    fn gathering_flush(&mut self) {
        if let Some(line) = self.gathering.take() {
            self.push_report(line);
        }
    }

    /// chat.c's chat_send() for a string that is not a keyword's argument,
    /// then put_string().
    fn send(&mut self, raw: &[u8], now: Instant) -> Result<(), ChatError> {
        let mut s: Cow<[u8]> = Cow::Borrowed(raw);
        if let Some(path) = file_send(raw) {
            let contents = self.files.get(&path).ok_or_else(|| ChatError::File {
                path: path.clone(),
                message: "not loaded (Script::load_files)".into(),
            })?;
            s = Cow::Owned(contents.clone());
        }
        let s: &[u8] = match &*s {
            b"EOT" => b"^D\\c",
            b"BREAK" => b"\\K\\c",
            other => other,
        };
        let cleaned = clean(
            s,
            true,
            self.cfg.phone.as_deref().map(str::as_bytes),
            self.cfg.phone2.as_deref().map(str::as_bytes),
        );
        self.put_string(&cleaned.bytes, cleaned.quiet, now);
        Ok(())
    }

    /// chat.c's put_string(): write, acting on the backslash sequences
    /// clean() left in.
    fn put_string(&mut self, s: &[u8], quiet: bool, now: Instant) {
        self.busy_until = self.busy_until.max(now);
        let mut chunk = Vec::new();
        let mut i = 0;
        while i < s.len() {
            let c = s[i];
            i += 1;
            if c != b'\\' {
                chunk.push(c);
                continue;
            }
            let Some(&e) = s.get(i) else {
                chunk.push(b'\\');
                break;
            };
            i += 1;
            let pause = match e {
                b'd' => Some(Action::Pause(self.cfg.delay)),
                b'p' => Some(Action::Pause(self.cfg.pause)),
                b'K' => Some(Action::Break),
                other => {
                    chunk.push(other);
                    None
                }
            };
            if let Some(action) = pause {
                self.send_chunk(&mut chunk, quiet);
                self.busy(match action {
                    Action::Pause(d) => d,
                    _ => BREAK_TIME,
                });
                self.push(action);
            }
        }
        self.send_chunk(&mut chunk, quiet);
    }

    fn busy(&mut self, d: Duration) {
        self.busy_until = self.busy_until.checked_add(d).unwrap_or(self.busy_until);
    }

    /// A SAY string: decoded like a send string (chat.c runs it through
    /// clean(s, 1)), with \d, \p and \K meaning nothing on a terminal,
    /// and without the CR a send string gets.
    fn say_text(&self, raw: &[u8]) -> String {
        let cleaned = clean(
            raw,
            true,
            self.cfg.phone.as_deref().map(str::as_bytes),
            self.cfg.phone2.as_deref().map(str::as_bytes),
        );
        let mut s = cleaned.bytes;
        if cleaned.added_return {
            s.pop();
        }
        let mut out = Vec::with_capacity(s.len());
        let mut it = s.into_iter();
        while let Some(c) = it.next() {
            if c != b'\\' {
                out.push(c);
                continue;
            }
            match it.next() {
                Some(b'd' | b'p' | b'K') => {}
                Some(other) => out.push(other),
                None => out.push(b'\\'),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn send_chunk(&mut self, chunk: &mut Vec<u8>, quiet: bool) {
        if chunk.is_empty() {
            return;
        }
        let bytes = std::mem::take(chunk);
        let n = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.busy(self.cfg.char_delay.saturating_mul(n));
        self.push(Action::Send {
            bytes,
            char_delay: self.cfg.char_delay,
            quiet,
        });
    }
}

/// C's iscntrl() for 7-bit characters.
fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::chat::visible;

    fn cfg() -> ChatConfig {
        ChatConfig {
            phone: Some("5551234".into()),
            ..ChatConfig::default()
        }
    }

    /// A chat with no per-character delay, for exact deadlines.
    fn cfg_fast() -> ChatConfig {
        ChatConfig {
            char_delay: Duration::ZERO,
            ..cfg()
        }
    }

    fn run(script: &str, cfg: ChatConfig, t0: Instant) -> Chat {
        Chat::new(Script::parse(script).unwrap(), cfg, t0)
    }

    fn actions(chat: &mut Chat) -> Vec<Action> {
        std::iter::from_fn(|| chat.poll_action()).collect()
    }

    /// Just the bytes sent, concatenated.
    fn sent(chat: &mut Chat) -> Vec<u8> {
        actions(chat)
            .into_iter()
            .filter_map(|a| match a {
                Action::Send { bytes, .. } => Some(bytes),
                _ => None,
            })
            .flatten()
            .collect()
    }

    fn send(bytes: &[u8]) -> Action {
        Action::Send {
            bytes: bytes.to_vec(),
            char_delay: Duration::from_millis(10),
            quiet: false,
        }
    }

    // ---- escapes -------------------------------------------------------

    /// The actions a single send string produces.
    fn send_actions(s: &str, cfg: ChatConfig) -> Vec<Action> {
        let mut chat = Chat::new(Script::from_args(["", s]).unwrap(), cfg, Instant::now());
        assert_eq!(chat.outcome(), &Outcome::Success);
        actions(&mut chat)
    }

    #[test]
    fn send_escapes() {
        let c = cfg();
        let cases: &[(&str, &[u8])] = &[
            ("ATZ", b"ATZ\r"),
            ("", b"\r"),
            ("hello\\c", b"hello"),
            ("a\\cb", b"acb\r"),
            ("\\b\\r\\n\\s\\t", b"\x08\r\n \t\r"),
            ("a\\\\b", b"a\\b\r"),
            ("a\\Nb", b"a\0b\r"),
            ("a\\0b", b"a\0b\r"),
            ("\\134", b"\\\r"),
            ("\\101\\c", b"A"),
            ("ATDT\\T", b"ATDT5551234\r"),
            ("^C\\c", b"\x03"),
            ("tail\\", b"tail\\\r"),
            ("\\x", b"x\r"),
            ("EOT", b"\x04"),
        ];
        for (input, output) in cases {
            let got: Vec<u8> = send_actions(input, c.clone())
                .into_iter()
                .filter_map(|a| match a {
                    Action::Send { bytes, .. } => Some(bytes),
                    _ => None,
                })
                .flatten()
                .collect();
            assert_eq!(got, *output, "{input:?}");
        }
    }

    #[test]
    fn phone_number_escapes() {
        let none = ChatConfig {
            phone: None,
            ..cfg()
        };
        // Without -T, chat sends the letter.
        assert_eq!(send_actions("ATDT\\T\\c", none), [send(b"ATDTT")]);
        let both = ChatConfig {
            phone2: Some("99".into()),
            ..cfg()
        };
        assert_eq!(send_actions("\\T,\\U\\c", both), [send(b"5551234,99")]);
    }

    #[test]
    fn delays_pauses_and_breaks() {
        let c = cfg();
        assert_eq!(
            send_actions("AT\\d\\pZ\\K", c.clone()),
            [
                send(b"AT"),
                Action::Pause(Duration::from_secs(1)),
                Action::Pause(Duration::from_millis(10)),
                send(b"Z"),
                Action::Break,
                send(b"\r"),
            ]
        );
        assert_eq!(send_actions("BREAK", c.clone()), [Action::Break]);
        assert_eq!(
            send_actions("\\d\\c", c.clone()),
            [Action::Pause(Duration::from_secs(1))]
        );
    }

    #[test]
    fn quiet_sends_are_marked() {
        assert_eq!(
            send_actions("s3cret\\q", cfg()),
            [Action::Send {
                bytes: b"s3cret\r".to_vec(),
                char_delay: Duration::from_millis(10),
                quiet: true
            }]
        );
        // Nor does its Debug show it.
        let shown = format!("{:?}", send_actions("s3cret\\q", cfg()));
        assert!(!shown.contains("115, 51, 99"), "{shown}");
        assert!(shown.contains("<hidden: 7 bytes>"), "{shown}");
    }

    // ---- running -------------------------------------------------------

    const PPPD_SCRIPT: &str = "ABORT BUSY ABORT 'NO CARRIER' '' ATZ OK ATDT\\T CONNECT ''";

    #[test]
    fn typical_pppd_script_connects() {
        let t0 = Instant::now();
        let mut chat = run(PPPD_SCRIPT, cfg(), t0);
        assert_eq!(actions(&mut chat), [send(b"ATZ\r")]);
        assert_eq!(chat.outcome(), &Outcome::Running);
        // The modem echoes, answers in pieces.
        chat.feed(b"ATZ\r", t0);
        chat.feed(b"\r\nO", t0);
        assert!(actions(&mut chat).is_empty());
        chat.feed(b"K\r\n", t0);
        assert_eq!(actions(&mut chat), [send(b"ATDT5551234\r")]);
        chat.feed(b"ATDT5551234\r\r\nCONNECT 33600/ARQ\r\n~\xff}#", t0);
        assert_eq!(actions(&mut chat), [send(b"\r")]);
        assert_eq!(chat.outcome(), &Outcome::Success);
        assert_eq!(chat.outcome().exit_code(), Some(0));
        assert!(chat.is_done());
        assert_eq!(chat.poll_timeout(), None);
        // What chat would have left unread on the line for pppd.
        assert_eq!(chat.take_remaining(), b" 33600/ARQ\r\n~\xff}#");
        // Output arriving later is kept for the next reader too.
        chat.feed(b"\x7e", t0);
        assert_eq!(chat.take_remaining(), b"\x7e");
    }

    #[test]
    fn byte_at_a_time_makes_no_difference() {
        let t0 = Instant::now();
        let mut chat = run(PPPD_SCRIPT, cfg(), t0);
        let mut all = sent(&mut chat);
        for b in b"ATZ\r\r\nOK\r\nATDT5551234\r\r\nCONNECT\r\n" {
            chat.feed(&[*b], t0);
            all.extend(sent(&mut chat));
        }
        assert_eq!(all, b"ATZ\rATDT5551234\r\r");
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn abort_numbering() {
        let t0 = Instant::now();
        for (reply, code, string) in [("BUSY", 4, "BUSY"), ("NO CARRIER", 5, "NO CARRIER")] {
            let mut chat = run(PPPD_SCRIPT, cfg(), t0);
            chat.feed(b"\r\nOK\r\n", t0);
            chat.feed(format!("\r\n{reply}\r\n").as_bytes(), t0);
            assert_eq!(
                chat.outcome(),
                &Outcome::Aborted {
                    index: code as usize - 4,
                    string: string.into()
                }
            );
            assert_eq!(chat.outcome().exit_code(), Some(code));
            // The rest of the line is not consumed.
            assert_eq!(chat.take_remaining(), b"\r\n");
        }
    }

    #[test]
    fn abort_applies_while_waiting_for_any_expect() {
        let t0 = Instant::now();
        // An abort string seen while waiting for OK aborts too.
        let mut chat = run(PPPD_SCRIPT, cfg(), t0);
        chat.feed(b"NO CARRIER", t0);
        assert_eq!(chat.outcome().exit_code(), Some(5));
    }

    #[test]
    fn clr_abort_repacks_the_numbering() {
        let t0 = Instant::now();
        let script = "ABORT BUSY ABORT 'NO CARRIER' ABORT ERROR CLR_ABORT BUSY '' ATDT1 CONNECT ''";
        let mut chat = run(script, cfg(), t0);
        chat.feed(b"BUSY\r\n", t0);
        assert_eq!(chat.outcome(), &Outcome::Running);
        chat.feed(b"ERROR\r\n", t0);
        // ERROR was third, is now second: 4 + 1.
        assert_eq!(chat.outcome().exit_code(), Some(5));
    }

    #[test]
    fn expect_wins_over_abort_on_the_same_character() {
        let t0 = Instant::now();
        let mut chat = run("ABORT 'NO CARRIER' '' ATH 'NO CARRIER' ''", cfg(), t0);
        chat.feed(b"NO CARRIER\r\n", t0);
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn timeout_is_exit_3_and_starts_after_the_send() {
        let t0 = Instant::now();
        let mut chat = run("'' ATZ OK ''", cfg(), t0);
        // Four characters at 10 ms each, then 45 s.
        let deadline = t0 + Duration::from_millis(40) + DEFAULT_TIMEOUT;
        assert_eq!(chat.poll_timeout(), Some(deadline));
        chat.handle_timeout(deadline - Duration::from_millis(1));
        assert_eq!(chat.outcome(), &Outcome::Running);
        chat.handle_timeout(deadline);
        assert_eq!(
            chat.outcome(),
            &Outcome::Timeout {
                expect: "OK".into()
            }
        );
        assert_eq!(chat.outcome().exit_code(), Some(3));
    }

    #[test]
    fn bytes_after_the_deadline_do_not_match_the_expired_expect() {
        let t0 = Instant::now();
        let mut chat = run("'' AT OK ''", cfg_fast(), t0);
        let d = chat.poll_timeout().unwrap();
        chat.feed(b"OK", d);
        assert_eq!(chat.outcome().exit_code(), Some(3));
        // With a sub-expect, they go to the next alternative.
        let mut chat = run("'' AT OK-AT-OK ''", cfg_fast(), t0);
        let d = chat.poll_timeout().unwrap();
        chat.feed(b"OK", d);
        assert_eq!(sent(&mut chat), b"AT\rAT\r\r");
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn pauses_count_before_the_timer() {
        let t0 = Instant::now();
        let mut chat = run("'' AT\\d\\dZ OK ''", cfg_fast(), t0);
        assert_eq!(
            actions(&mut chat),
            [
                send_fast(b"AT"),
                Action::Pause(Duration::from_secs(1)),
                Action::Pause(Duration::from_secs(1)),
                send_fast(b"Z\r"),
            ]
        );
        assert_eq!(
            chat.poll_timeout(),
            Some(t0 + Duration::from_secs(2) + DEFAULT_TIMEOUT)
        );
    }

    #[test]
    fn timeout_keyword_applies_to_later_expects_and_persists() {
        let t0 = Instant::now();
        let mut chat = run(
            "TIMEOUT 5 '' AT OK AT OK AT TIMEOUT 0 OK ''",
            cfg_fast(),
            t0,
        );
        assert_eq!(chat.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        chat.feed(b"OK", t0);
        assert_eq!(chat.poll_timeout(), Some(t0 + Duration::from_secs(5)));
        let t1 = t0 + Duration::from_secs(1);
        chat.feed(b"OK", t1);
        // TIMEOUT 0 restores chat's default, not the -t value.
        assert_eq!(chat.poll_timeout(), Some(t1 + DEFAULT_TIMEOUT));
    }

    #[test]
    fn config_timeout_zero_waits_for_ever() {
        let t0 = Instant::now();
        let chat = run(
            "'' AT OK ''",
            ChatConfig {
                timeout: Duration::ZERO,
                ..cfg_fast()
            },
            t0,
        );
        assert_eq!(chat.poll_timeout(), None);
    }

    #[test]
    fn sub_expect_sends_return_then_waits_again() {
        let t0 = Instant::now();
        let mut chat = run(
            "TIMEOUT 5 ogin:--ogin: ppp ssword: hello2u2",
            cfg_fast(),
            t0,
        );
        assert!(actions(&mut chat).is_empty());
        let d1 = chat.poll_timeout().unwrap();
        assert_eq!(d1, t0 + Duration::from_secs(5));
        chat.handle_timeout(d1);
        // The empty sub-send is a lone return.
        assert_eq!(sent(&mut chat), b"\r");
        assert_eq!(chat.outcome(), &Outcome::Running);
        let d2 = chat.poll_timeout().unwrap();
        assert_eq!(d2, d1 + Duration::from_secs(5));
        chat.feed(b"\r\nlogin:", d1);
        assert_eq!(sent(&mut chat), b"ppp\r");
        chat.feed(b" ppp\r\nPassword:", d1);
        assert_eq!(sent(&mut chat), b"hello2u2\r");
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn sub_expect_break_and_exhaustion() {
        let t0 = Instant::now();
        let mut chat = run("ogin:-BREAK-ogin: ppp", cfg_fast(), t0);
        let d = chat.poll_timeout().unwrap();
        chat.handle_timeout(d);
        assert_eq!(actions(&mut chat), [Action::Break]);
        // The second ogin: does not come either: a plain timeout, exit 3.
        let d = chat.poll_timeout().unwrap();
        chat.handle_timeout(d);
        assert_eq!(
            chat.outcome(),
            &Outcome::Timeout {
                expect: "ogin:".into()
            }
        );
    }

    #[test]
    fn trailing_sub_send_succeeds_after_sending() {
        let t0 = Instant::now();
        // ogin:-x: wait for ogin:, else send x and carry on.
        let mut chat = run("ogin:-x next", cfg_fast(), t0);
        let d = chat.poll_timeout().unwrap();
        chat.handle_timeout(d);
        assert_eq!(sent(&mut chat), b"x\rnext\r");
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn abort_during_sub_expect_is_not_retried() {
        let t0 = Instant::now();
        let mut chat = run("ABORT BUSY ogin:--ogin: ppp", cfg_fast(), t0);
        chat.feed(b"BUSY", t0);
        assert_eq!(chat.outcome().exit_code(), Some(4));
        assert!(actions(&mut chat).is_empty());
    }

    #[test]
    fn report_line_is_written_once() {
        let t0 = Instant::now();
        let mut chat = run(
            "REPORT CONNECT ABORT BUSY '' ATDT1 CONNECT '' ogin: ppp",
            cfg_fast(),
            t0,
        );
        sent(&mut chat);
        chat.feed(b"\r\nCONNECT 33", t0);
        assert_eq!(sent(&mut chat), b"\r");
        chat.feed(b"600/V42BIS\r\nCONNECT again\r\nlogin:", t0);
        let acts = actions(&mut chat);
        assert_eq!(
            acts,
            [
                Action::Report("CONNECT 33600/V42BIS".into()),
                send_fast(b"ppp\r")
            ]
        );
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    fn send_fast(bytes: &[u8]) -> Action {
        Action::Send {
            bytes: bytes.to_vec(),
            char_delay: Duration::ZERO,
            quiet: false,
        }
    }

    #[test]
    fn report_finished_after_the_script_ends() {
        let t0 = Instant::now();
        let mut chat = run("REPORT CONNECT '' ATDT1 CONNECT ''", cfg_fast(), t0);
        sent(&mut chat);
        chat.feed(b"CONNECT 2", t0);
        // The script is over but chat still reads the report line.
        assert_eq!(sent(&mut chat), b"\r");
        assert_eq!(chat.outcome(), &Outcome::Running);
        assert_eq!(chat.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        let t1 = t0 + Duration::from_millis(300);
        chat.feed(b"400", t1);
        assert_eq!(chat.poll_timeout(), Some(t1 + Duration::from_secs(1)));
        chat.feed(b"\r\n~~", t1);
        assert_eq!(actions(&mut chat), [Action::Report("CONNECT 2400".into())]);
        assert_eq!(chat.outcome(), &Outcome::Success);
        // The control character that ended the report was read; the rest
        // was not.
        assert_eq!(chat.take_remaining(), b"\n~~");
    }

    #[test]
    fn report_cut_short_by_silence() {
        let t0 = Instant::now();
        let mut chat = run("REPORT CONNECT '' ATDT1 CONNECT ''", cfg_fast(), t0);
        chat.feed(b"CONNECT 96", t0);
        actions(&mut chat);
        let d = chat.poll_timeout().unwrap();
        chat.handle_timeout(d);
        assert_eq!(actions(&mut chat), [Action::Report("CONNECT 96".into())]);
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn clr_report_stops_reporting() {
        let t0 = Instant::now();
        let mut chat = run(
            "REPORT CONNECT CLR_REPORT CONNECT '' ATDT1 CONNECT ''",
            cfg_fast(),
            t0,
        );
        chat.feed(b"CONNECT 2400\r\n", t0);
        assert!(!actions(&mut chat)
            .iter()
            .any(|a| matches!(a, Action::Report(_))));
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn say_messages_in_order() {
        let t0 = Instant::now();
        let mut chat = run(
            "SAY 'Dialling...\\n' '' ATDT\\T TIMEOUT 120 SAY \"Waiting\\c\" CONNECT ''",
            cfg_fast(),
            t0,
        );
        assert_eq!(
            actions(&mut chat),
            [
                Action::Say("Dialling...\n".into()),
                send_fast(b"ATDT5551234\r"),
                Action::Say("Waiting".into()),
            ]
        );
        assert_eq!(chat.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    }

    #[test]
    fn say_decoding() {
        let t0 = Instant::now();
        let mut chat = run(
            "SAY 'a\\\\b\\d\\p\\K\\tT=\\T\\n' SAY x\\c SAY ''",
            cfg_fast(),
            t0,
        );
        assert_eq!(
            actions(&mut chat),
            [
                Action::Say("a\\b\tT=5551234\n".into()),
                Action::Say("x".into()),
                Action::Say("".into()),
            ]
        );
    }

    #[test]
    fn echo_on_and_off() {
        let t0 = Instant::now();
        let mut chat = run("'' ATZ OK ATDT1 ECHO ON CONNECT ''", cfg_fast(), t0);
        chat.feed(b"ATZ\r\r\nOK\r\n", t0);
        chat.feed(b"\r\nCONNECT\r\n", t0);
        assert_eq!(
            actions(&mut chat),
            [
                send_fast(b"ATZ\r"),
                send_fast(b"ATDT1\r"),
                // The line break after OK is read (and echoed) by the
                // CONNECT expect, as chat reads it.
                Action::Echo(b"\r\n".to_vec()),
                Action::Echo(b"\r\nCONNECT".to_vec()),
                send_fast(b"\r"),
            ]
        );
        // -e echoes from the start; ECHO OFF stops it.
        let mut chat = run(
            "ECHO OFF '' AT OK ''",
            ChatConfig {
                echo: true,
                ..cfg_fast()
            },
            t0,
        );
        chat.feed(b"OK", t0);
        assert!(!actions(&mut chat)
            .iter()
            .any(|a| matches!(a, Action::Echo(_))));
        assert_eq!(visible(b"\r\nCONNECT\x01\xc1\x7f"), "\nCONNECT^AM-A^?");
    }

    #[test]
    fn hangup_on_and_off() {
        let t0 = Instant::now();
        let mut chat = run("'' ATDT1 CONNECT ''", cfg_fast(), t0);
        assert!(chat.hangup_enabled());
        chat.handle_hangup(t0);
        assert_eq!(chat.outcome(), &Outcome::Error(ChatError::Hangup));
        assert_eq!(chat.outcome().exit_code(), Some(2));

        // A call-back script: the hangup in the middle is expected.
        let mut chat = run(
            "'' ATDT1 CONNECT '' HANGUP OFF 'Callback login:' id TIMEOUT 120 CONNECT '' HANGUP ON ogin: ppp",
            cfg_fast(),
            t0,
        );
        chat.feed(b"CONNECT\r\n", t0);
        chat.feed(b"Callback login:", t0);
        assert!(actions(&mut chat).contains(&Action::SetHangup(false)));
        chat.handle_hangup(t0);
        assert_eq!(chat.outcome(), &Outcome::Running);
        chat.feed(b"RING\r\nCONNECT 9600\r\n", t0);
        assert!(actions(&mut chat).contains(&Action::SetHangup(true)));
        chat.handle_hangup(t0);
        assert_eq!(chat.outcome().exit_code(), Some(2));
    }

    #[test]
    fn io_error_is_exit_2() {
        let t0 = Instant::now();
        let mut chat = run(PPPD_SCRIPT, cfg(), t0);
        chat.handle_io_error("read: EIO", t0);
        assert_eq!(
            chat.outcome(),
            &Outcome::Error(ChatError::Io("read: EIO".into()))
        );
        assert_eq!(chat.outcome().exit_code(), Some(2));
    }

    #[test]
    fn eighth_bit_is_stripped_before_matching() {
        let t0 = Instant::now();
        let mut chat = run("'' AT OK ''", cfg_fast(), t0);
        chat.feed(b"O\xcb", t0);
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn long_noise_before_the_expect() {
        let t0 = Instant::now();
        let mut chat = run("'' AT OK ''", cfg_fast(), t0);
        chat.feed(&vec![b'z'; 10_000], t0);
        chat.feed(b"O", t0);
        chat.feed(b"K", t0);
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn too_many_aborts_is_exit_2() {
        let t0 = Instant::now();
        let mut args = Vec::new();
        for i in 0..51 {
            args.push("ABORT".to_string());
            args.push(format!("A{i}"));
        }
        let mut chat = Chat::new(Script::from_args(args).unwrap(), cfg(), t0);
        assert_eq!(chat.outcome(), &Outcome::Error(ChatError::TooManyAborts));
        assert_eq!(chat.outcome().exit_code(), Some(2));
        assert!(actions(&mut chat).is_empty());
    }

    #[test]
    fn empty_abort_string_matches_anything_like_chat() {
        let t0 = Instant::now();
        let mut chat = run("ABORT '' '' AT OK ''", cfg_fast(), t0);
        chat.feed(b"x", t0);
        assert_eq!(chat.outcome().exit_code(), Some(4));
    }

    #[test]
    fn file_sends() {
        let t0 = Instant::now();
        let mut script = Script::parse("ogin: @/etc/ppp/user ssword: '@ /tmp/pw' $ '@'").unwrap();
        assert_eq!(
            script.files_needed(),
            [PathBuf::from("/etc/ppp/user"), PathBuf::from("/tmp/pw")]
        );
        let unloaded = script.clone();
        script
            .load_files(|p| {
                Ok(match p.to_str().unwrap() {
                    "/etc/ppp/user" => b"alice\n".to_vec(),
                    _ => b"pa\\\\ss\\c\n\n".to_vec(),
                })
            })
            .unwrap();
        let mut chat = Chat::new(script, cfg_fast(), t0);
        chat.feed(b"login:", t0);
        chat.feed(b"Password:", t0);
        chat.feed(b"$", t0);
        assert_eq!(sent(&mut chat), b"alice\rpa\\ssc\n\r@\r");
        assert_eq!(chat.outcome(), &Outcome::Success);

        // Not loaded: exit 1 when the script gets there.
        let mut chat = Chat::new(unloaded, cfg_fast(), t0);
        chat.feed(b"login:", t0);
        assert_eq!(chat.outcome().exit_code(), Some(1));
        // Unreadable: exit 1 from load_files.
        let mut script = Script::parse("'' @/nonexistent").unwrap();
        let err = script.load_files(|p| std::fs::read(p)).unwrap_err();
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn file_content_is_capped_like_chat() {
        let mut s = Script::parse("'' @f").unwrap();
        s.provide_file("f".into(), vec![b'a'; 5000]);
        let mut chat = Chat::new(s, cfg_fast(), Instant::now());
        assert_eq!(sent(&mut chat).len(), 1023 + 1);
    }

    #[test]
    fn empty_script_succeeds_at_once() {
        let chat = run("", cfg(), Instant::now());
        assert_eq!(chat.outcome(), &Outcome::Success);
        let chat = run("# only a comment\n\n", cfg(), Instant::now());
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn calls_after_the_end_are_harmless() {
        let t0 = Instant::now();
        let mut chat = run("'' AT OK ''", cfg_fast(), t0);
        chat.feed(b"OK", t0);
        assert_eq!(chat.outcome(), &Outcome::Success);
        chat.handle_timeout(t0 + Duration::from_secs(1000));
        chat.handle_hangup(t0);
        chat.handle_io_error("x", t0);
        assert_eq!(chat.outcome(), &Outcome::Success);
    }

    #[test]
    fn never_panics_on_arbitrary_scripts_and_input() {
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"ab-\\^'\" \n\t#OKdpcKNT0178@";
        let words = [
            "ABORT",
            "CLR_ABORT",
            "REPORT",
            "CLR_REPORT",
            "TIMEOUT",
            "ECHO",
            "SAY",
            "HANGUP",
            "ON",
            "OFF",
            "EOT",
            "BREAK",
            "''",
        ];
        for _ in 0..500 {
            let mut text = Vec::new();
            for _ in 0..(rnd() % 20) {
                if rnd() % 3 == 0 {
                    text.extend_from_slice(words[(rnd() % words.len() as u64) as usize].as_bytes());
                    text.push(b' ');
                } else {
                    text.push(alphabet[(rnd() % alphabet.len() as u64) as usize]);
                }
            }
            let Ok(mut script) = Script::parse_bytes(&text) else {
                continue;
            };
            for p in script.files_needed() {
                script.provide_file(p, b"x\\d".to_vec());
            }
            let t0 = Instant::now();
            let mut chat = Chat::new(script, cfg(), t0);
            let mut now = t0;
            for _ in 0..50 {
                match rnd() % 4 {
                    0 => {
                        if let Some(d) = chat.poll_timeout() {
                            now = now.max(d);
                        }
                        chat.handle_timeout(now);
                    }
                    _ => {
                        let chunk: Vec<u8> = (0..rnd() % 8)
                            .map(|_| {
                                alphabet[(rnd() % alphabet.len() as u64) as usize]
                                    ^ (rnd() as u8 & 0x80)
                            })
                            .collect();
                        chat.feed(&chunk, now);
                    }
                }
                while chat.poll_action().is_some() {}
            }
            let _ = chat.outcome().exit_code();
        }
    }
}
