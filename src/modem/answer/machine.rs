//! The sans-IO side of [`wait_for_call`](super::wait_for_call): the ring
//! count, caller ID screening and the timers of one wait for a call.
//!
//! Driven like the chat interpreter: [`CallWait::handle_line`] with each
//! line the modem says, [`CallWait::handle_timeout`] at
//! [`CallWait::poll_timeout`], the answer to ATA back through
//! [`CallWait::handle_answer`]; drain [`CallWait::poll_action`] (events,
//! ATA, aborts) in order, then [`CallWait::take_outcome`]. It owns no
//! port and no clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{AnswerError, AnswerEvent, AnswerMode, AnswerOptions, Answered};
use crate::deadline::after_std;
use crate::modem::reader::ModemOutput;
use crate::modem::result::{CallerIdField, Connect, ResultCode, Unsolicited};
use crate::modem::screen::{RefuseReason, Verdict};

/// How long the modem gets to give up a call we abandon.
const ABORT_WAIT: Duration = Duration::from_secs(3);
/// Caller ID fields kept for one call (a real one has four or five); a
/// modem that sends more is not believed, and the rest are counted and
/// dropped so that memory stays bounded.
pub(super) const MAX_CALLER_ID: usize = 16;
/// Caller ID comes between the first and the second RING (Bellcore
/// GR-30, ETSI EN 300 659-1): by this RING it is missing.
const CALLER_ID_BY_RING: u32 = 2;

/// What the machine asks of its driver, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// For the user.
    Event(AnswerEvent),
    /// Send ATA and wait up to `connect_timeout` for its final result,
    /// then report it: [`CallWait::handle_answer`], or
    /// [`CallWait::handle_answer_timeout`] if none came. No lines are
    /// fed meanwhile.
    Answer,
    /// Abort the call the modem is answering (any character, V.250
    /// §6.3.1.9), waiting at most this long for its NO CARRIER.
    Abort(Duration),
    /// Forget the RING and caller ID lines kept while ATA ran: they were
    /// the failed call's.
    DropQueued,
}

/// How the wait ended, before its times are taken.
#[derive(Debug)]
enum End {
    Connected(Connect),
    NoCall,
    Error(AnswerError),
}

/// One call's progress.
#[derive(Default)]
struct Call {
    rings: u32,
    /// The last RING or caller ID item: the ring gap runs from here.
    last_heard: Option<Instant>,
    /// When the modem started answering by itself (ModemAnswers).
    answering: Option<Instant>,
    caller_id: Vec<(CallerIdField, String)>,
    /// Caller ID fields past [`MAX_CALLER_ID`].
    caller_id_dropped: u64,
    /// The last NMBR, as the modem gave it.
    number: Option<String>,
    /// A RING came after the last NMBR: a new caller ID block is then a
    /// new call (its RING was that call's first).
    ring_since_number: bool,
    screen: Screen,
}

/// Where screening stands for one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum Screen {
    /// No verdict yet (or no screening).
    #[default]
    Waiting,
    /// Every NMBR of the call was allowed; this is the number.
    Cleared(String),
    /// Never answered; its RINGs are ignored.
    Refused,
}

impl Call {
    /// A call that begins with a caller ID block: the RING just before
    /// the block was its first.
    fn from_block(now: Instant) -> Call {
        Call {
            rings: 1,
            last_heard: Some(now),
            ..Call::default()
        }
    }

    /// Whether caller ID item `field` starts another call's block rather
    /// than continuing this one's: DATE or NMBR once this call has its
    /// number and has rung again, or once it was refused without one.
    fn is_new_block(&self, field: &CallerIdField) -> bool {
        let starts = matches!(field, CallerIdField::Date | CallerIdField::Number);
        let done = match self.number {
            Some(_) => self.ring_since_number,
            None => self.screen == Screen::Refused,
        };
        starts && done
    }
}

/// One wait for a call that connects.
pub struct CallWait {
    opts: AnswerOptions,
    start: Instant,
    /// `ring_timeout` from the start: bounds everything.
    overall: Option<Instant>,
    call: Call,
    /// Calls refused by caller ID so far.
    refused: u64,
    actions: VecDeque<Action>,
    end: Option<End>,
}

impl CallWait {
    /// A wait that started at `now` (before the setup commands: the
    /// overall limit counts them). Screening needs us to count the rings.
    pub fn new(opts: &AnswerOptions, now: Instant) -> Result<CallWait, AnswerError> {
        let wait = CallWait {
            opts: opts.clone(),
            start: now,
            overall: opts.ring_timeout.map(|d| after_std(now, d)),
            call: Call::default(),
            refused: 0,
            actions: VecDeque::new(),
            end: None,
        };
        if wait.screening() && matches!(opts.mode, AnswerMode::ModemAnswers(_)) {
            return Err(AnswerError::ScreeningNeedsRingCount);
        }
        Ok(wait)
    }

    /// What S0 is set to: 0 when we count the rings, else the modem's
    /// own count (S0=0 would never answer).
    pub fn s0(&self) -> u8 {
        match self.opts.mode {
            AnswerMode::CountRings(_) => 0,
            AnswerMode::ModemAnswers(n) => n.max(1),
        }
    }

    /// Whether callers are screened (and caller ID must be turned on).
    pub fn screening(&self) -> bool {
        self.opts.allowed_callers.is_restricted()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next moment [`CallWait::handle_timeout`] has something to do:
    /// the ring gap, the modem's time to connect, the overall limit. None
    /// waits for a line however long it takes.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.end.is_some() {
            return None;
        }
        [self.call_deadline(), self.overall]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn is_done(&self) -> bool {
        self.end.is_some()
    }

    /// How the wait ended, once it has and the actions before the end are
    /// carried out; the time waited is taken at `now`. Once only.
    pub fn take_outcome(&mut self, now: Instant) -> Option<Result<Answered, AnswerError>> {
        Some(match self.end.take()? {
            End::Connected(connect) => Ok(self.answered(connect, now)),
            End::NoCall => Err(AnswerError::NoCall {
                waited: now.saturating_duration_since(self.start),
            }),
            End::Error(e) => Err(e),
        })
    }

    /// Call at (or after) [`CallWait::poll_timeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.end.is_some() {
            return;
        }
        if self.overall.is_some_and(|o| now >= o) {
            if self.call.answering.is_some() {
                self.abort();
            }
            self.end = Some(End::NoCall);
            return;
        }
        if !self.call_deadline().is_some_and(|d| now >= d) {
            return;
        }
        if self.call.answering.is_some() {
            self.abort();
            self.fail("the modem answered but no CONNECT came");
        } else if self.call.screen == Screen::Refused {
            tracing::debug!("the refused call stopped ringing");
            self.call = Call::default();
        } else if self.call.rings > 0 {
            self.fail("the caller hung up while ringing");
        } else {
            // Caller ID without a RING: nothing to answer.
            self.call = Call::default();
        }
    }

    /// A line from the modem, heard at `now`.
    pub fn handle_line(&mut self, line: ModemOutput, now: Instant) {
        if self.end.is_some() {
            return;
        }
        match line {
            ModemOutput::Unsolicited(Unsolicited::Ring { .. }) => self.ring(now),
            ModemOutput::Unsolicited(Unsolicited::CallerId { field, value }) => {
                self.caller_id(field, value, now)
            }
            // The modem answered by itself (S0 > 0): unless we screen,
            // and then it went off-hook without asking us.
            ModemOutput::Result(ResultCode::Connect(_)) if self.screening() => {
                self.end = Some(End::Error(AnswerError::Unscreened));
            }
            ModemOutput::Result(ResultCode::Connect(connect)) => {
                self.end = Some(End::Connected(connect));
            }
            ModemOutput::Result(ResultCode::NoCarrier) => self.fail("NO CARRIER"),
            other => tracing::debug!(line = ?other, "while waiting for a call"),
        }
    }

    /// The final result of the ATA that [`Action::Answer`] asked for.
    pub fn handle_answer(&mut self, result: ResultCode) {
        match result {
            ResultCode::Connect(c) => self.end = Some(End::Connected(c)),
            ResultCode::Error => {
                self.end = Some(End::Error(AnswerError::Refused {
                    cmd: "ATA".into(),
                    result: ResultCode::Error,
                }))
            }
            other => {
                self.fail(&other.to_string());
                self.actions.push_back(Action::DropQueued);
            }
        }
    }

    /// No final result to ATA within `connect_timeout`.
    pub fn handle_answer_timeout(&mut self) {
        self.abort();
        self.fail("no CONNECT after ATA");
        self.actions.push_back(Action::DropQueued);
    }

    fn call_deadline(&self) -> Option<Instant> {
        match (self.call.answering, self.call.last_heard) {
            (Some(t), _) => Some(after_std(t, self.opts.connect_timeout)),
            (None, Some(t)) => Some(after_std(t, self.opts.ring_gap)),
            (None, None) => None,
        }
    }

    fn ring(&mut self, now: Instant) {
        let call = &mut self.call;
        call.last_heard = Some(now);
        call.ring_since_number = true;
        if call.screen == Screen::Refused {
            tracing::debug!("RING of a refused call: ignored");
            return;
        }
        call.rings += 1;
        let rings = call.rings;
        self.event(AnswerEvent::Ring { count: rings });
        match self.opts.mode {
            AnswerMode::CountRings(_)
                if self.screening()
                    && self.call.screen == Screen::Waiting
                    && rings >= CALLER_ID_BY_RING =>
            {
                self.refuse(None, RefuseReason::NoCallerId)
            }
            AnswerMode::CountRings(_) => self.answer_if_due(),
            AnswerMode::ModemAnswers(n)
                if self.call.answering.is_none() && rings >= u32::from(n.max(1)) =>
            {
                self.call.answering = Some(now);
                self.event(AnswerEvent::Answering);
            }
            AnswerMode::ModemAnswers(_) => {}
        }
    }

    fn caller_id(&mut self, field: CallerIdField, value: String, now: Instant) {
        if self.call.is_new_block(&field) && self.call.answering.is_none() {
            tracing::debug!("a new caller ID block: a new call");
            self.call = Call::from_block(now);
        }
        if self.call.caller_id.len() >= MAX_CALLER_ID {
            self.call.caller_id_dropped += 1;
            tracing::debug!(
                dropped = self.call.caller_id_dropped,
                "too many caller ID fields for one call: dropped"
            );
            return;
        }
        tracing::info!(?field, %value, "caller ID");
        self.call.last_heard = Some(now);
        self.call.caller_id.push((field.clone(), value.clone()));
        let is_number = field == CallerIdField::Number;
        self.event(AnswerEvent::CallerId {
            field,
            value: value.clone(),
        });
        if is_number && self.call.answering.is_none() {
            self.call.number = Some(value.clone());
            self.call.ring_since_number = false;
            self.judge(&value);
            if self.screening() && matches!(self.opts.mode, AnswerMode::CountRings(_)) {
                self.answer_if_due();
            }
        }
    }

    /// In [`AnswerMode::CountRings`], answers once the call has rung often
    /// enough and, when screening, its caller is cleared.
    fn answer_if_due(&mut self) {
        let AnswerMode::CountRings(n) = self.opts.mode else {
            return;
        };
        let cleared = matches!(self.call.screen, Screen::Cleared(_));
        if self.call.rings < u32::from(n.max(1)) || (self.screening() && !cleared) {
            return;
        }
        self.event(AnswerEvent::Answering);
        tracing::info!(rings = self.call.rings, "answering");
        self.actions.push_back(Action::Answer);
    }

    /// Judges an NMBR of the call. A second NMBR in the same block must
    /// be allowed too: a call is cleared only if all of them are.
    fn judge(&mut self, value: &str) {
        if !self.screening() || self.call.screen == Screen::Refused {
            return;
        }
        match self.opts.allowed_callers.judge(value) {
            Verdict::Allowed(n) => match &self.call.screen {
                Screen::Cleared(before) if *before != n => {
                    self.refuse(Some(n), RefuseReason::Conflicting)
                }
                _ => self.call.screen = Screen::Cleared(n),
            },
            Verdict::Refused { number, reason } => self.refuse(number, reason),
        }
    }

    fn refuse(&mut self, number: Option<String>, reason: RefuseReason) {
        self.refused += 1;
        tracing::warn!(
            number = number.as_deref().unwrap_or("-"),
            %reason,
            refused = self.refused,
            "call refused by caller ID: not answering"
        );
        self.call.screen = Screen::Refused;
        self.event(AnswerEvent::Refused {
            number,
            reason,
            refused: self.refused,
        });
    }

    fn abort(&mut self) {
        let wait = ABORT_WAIT.min(self.opts.connect_timeout);
        self.actions.push_back(Action::Abort(wait));
    }

    fn fail(&mut self, reason: &str) {
        tracing::info!(
            rings = self.call.rings,
            reason,
            "call did not connect; waiting again"
        );
        self.event(AnswerEvent::Failed {
            reason: reason.to_owned(),
        });
        self.call = Call::default();
    }

    fn event(&mut self, e: AnswerEvent) {
        self.actions.push_back(Action::Event(e));
    }

    fn answered(&mut self, connect: Connect, now: Instant) -> Answered {
        let call = std::mem::take(&mut self.call);
        let caller = match call.screen {
            Screen::Cleared(n) => Some(n),
            _ => call.number,
        };
        tracing::info!(
            rings = call.rings,
            connect = %ResultCode::Connect(connect.clone()),
            caller = caller.as_deref().unwrap_or("-"),
            caller_id_dropped = call.caller_id_dropped,
            "call answered"
        );
        Answered {
            connect,
            rings: call.rings,
            caller_id: call.caller_id,
            caller,
            refused: self.refused,
            elapsed: now.saturating_duration_since(self.start),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::answer::test_util::{block, opts, screened};
    use crate::modem::reader::{LineReader, ReaderConfig};

    /// A wait driven as [`super::super::wait_for_call`] drives it, on a
    /// clock of the test's own.
    struct Run {
        wait: CallWait,
        t0: Instant,
        now: Instant,
        reader: LineReader,
        events: Vec<AnswerEvent>,
        /// What carrier wrote to the modem: "ATA", "abort".
        written: Vec<&'static str>,
    }

    impl Run {
        fn new(opts: AnswerOptions) -> Run {
            let t0 = Instant::now();
            Run {
                wait: CallWait::new(&opts, t0).unwrap(),
                t0,
                now: t0,
                reader: LineReader::new(ReaderConfig::default()),
                events: Vec::new(),
                written: Vec::new(),
            }
        }

        /// Time passes up to `ms` after the start: each deadline on the
        /// way is met when it falls due.
        fn wait_until(&mut self, ms: u64) {
            let to = self.t0 + Duration::from_millis(ms);
            while let Some(d) = self.wait.poll_timeout().filter(|&d| d <= to) {
                self.now = d;
                self.wait.handle_timeout(d);
                self.drain();
            }
            self.now = to;
        }

        /// The modem says `bytes`, `ms` after the start.
        fn modem(&mut self, ms: u64, bytes: &[u8]) {
            self.wait_until(ms);
            self.reader.push(bytes, self.now);
            while let Some(line) = self.reader.poll_line() {
                self.wait.handle_line(line, self.now);
                self.drain();
            }
        }

        fn ring(&mut self, ms: u64) {
            self.modem(ms, b"\r\nRING\r\n");
        }

        /// The final result of the ATA carrier sent.
        fn answer(&mut self, result: ResultCode) {
            assert_eq!(self.written.last(), Some(&"ATA"), "{:?}", self.written);
            self.wait.handle_answer(result);
            self.drain();
        }

        fn drain(&mut self) {
            while let Some(action) = self.wait.poll_action() {
                match action {
                    Action::Event(e) => self.events.push(e),
                    Action::Answer => self.written.push("ATA"),
                    Action::Abort(_) => self.written.push("abort"),
                    Action::DropQueued => {}
                }
            }
        }

        /// How the wait ends, however long that takes.
        fn outcome(&mut self) -> Result<Answered, AnswerError> {
            loop {
                if let Some(outcome) = self.wait.take_outcome(self.now) {
                    return outcome;
                }
                let d = self.wait.poll_timeout().expect("a wait that ends");
                self.now = d;
                self.wait.handle_timeout(d);
                self.drain();
            }
        }
    }

    fn refusals(events: &[AnswerEvent]) -> Vec<(Option<String>, &'static str, u64)> {
        events
            .iter()
            .filter_map(|e| match e {
                AnswerEvent::Refused {
                    number,
                    reason,
                    refused,
                } => Some((number.clone(), reason.code(), *refused)),
                _ => None,
            })
            .collect()
    }

    fn connect(speed: u32) -> ResultCode {
        ResultCode::Connect(Connect {
            speed: Some(speed),
            protocol: None,
        })
    }

    #[test]
    fn an_allowed_caller_is_answered_once_its_number_is_known() {
        let mut r = Run::new(screened(AnswerMode::CountRings(1), &["5550142"]));
        r.ring(0);
        // The first ring is enough, but not before the caller ID.
        r.wait_until(60);
        assert!(r.written.is_empty(), "carrier wrote {:?}", r.written);
        r.modem(60, &block("555-0142"));
        assert_eq!(r.written, ["ATA"]);
        r.answer(connect(33600));
        let got = r.outcome().unwrap();
        let events = r.events;
        assert_eq!(got.caller.as_deref(), Some("5550142"), "as digits");
        assert_eq!(got.rings, 1);
        assert_eq!(got.refused, 0);
        assert_eq!(got.caller_id.len(), 3);
        assert!(refusals(&events).is_empty(), "{events:?}");
        let answering = events.iter().position(|e| *e == AnswerEvent::Answering);
        let number = events.iter().position(|e| {
            matches!(
                e,
                AnswerEvent::CallerId {
                    field: CallerIdField::Number,
                    ..
                }
            )
        });
        assert!(number.unwrap() < answering.unwrap(), "{events:?}");
    }

    #[test]
    fn a_caller_not_on_the_list_is_never_answered() {
        let mut o = screened(AnswerMode::CountRings(1), &["5550142"]);
        o.ring_timeout = Some(Duration::from_millis(600));
        let mut r = Run::new(o);
        r.ring(0);
        r.modem(0, &block("5559999"));
        r.modem(0, b"\r\nNAME = MALLORY\r\n");
        for i in 1..=3 {
            r.ring(40 * i);
        }
        let e = r.outcome().unwrap_err();
        assert!(matches!(e, AnswerError::NoCall { .. }), "{e}");
        let (written, events) = (r.written, r.events);
        assert!(!written.contains(&"ATA"), "carrier answered: {written:?}");
        assert!(written.is_empty(), "nothing at all after the setup");
        assert_eq!(
            refusals(&events),
            vec![(Some("5559999".into()), "not-allowed", 1)]
        );
        let rings = events
            .iter()
            .filter(|e| matches!(e, AnswerEvent::Ring { .. }))
            .count();
        assert_eq!(
            rings, 1,
            "the refused call's further RINGs are ignored: {events:?}"
        );
        assert!(!events.contains(&AnswerEvent::Answering));
    }

    #[test]
    fn withheld_missing_and_garbage_caller_id_are_refused() {
        let mut o = screened(AnswerMode::CountRings(1), &["*"]);
        o.ring_timeout = Some(Duration::from_millis(2600));
        let mut r = Run::new(o);
        let gap = 350;
        // Withheld.
        r.ring(0);
        r.modem(0, &block("P"));
        r.ring(40);
        // No caller ID at all by the second ring.
        let t = 40 + gap;
        r.ring(t);
        r.ring(t + 40);
        // A date and a time but no number.
        let t = t + 40 + gap;
        r.ring(t);
        r.modem(t, b"\r\nDATE = 0321\r\nTIME = 1405\r\n");
        r.ring(t);
        // Garbage, in a flood: one refusal, nothing stalls.
        let t = t + gap;
        r.ring(t);
        r.modem(t, &block("55\x01x;\x1b[2J"));
        for _ in 0..100 {
            r.modem(t, b"\r\nNMBR = 5550142\r\n");
        }
        r.modem(t, b"\r\nNMBR =\r\n\r\nNMBR\r\n\xff\xfe\r\n");
        // Unavailable (out of area), then an empty number.
        let t = t + gap;
        r.ring(t);
        r.modem(t, &block("O"));
        let t = t + gap;
        r.ring(t);
        r.modem(t, b"\r\nNMBR = \r\n");
        let e = r.outcome().unwrap_err();
        assert!(matches!(e, AnswerError::NoCall { .. }), "{e}");
        let (written, events) = (r.written, r.events);
        assert!(written.is_empty(), "no ATA, nothing at all");
        assert_eq!(
            refusals(&events),
            vec![
                (None, "withheld", 1),
                (None, "no-caller-id", 2),
                (None, "no-caller-id", 3),
                // The line reader keeps printable ASCII only.
                (Some("55x;[2J".into()), "unreadable", 4),
                (None, "unavailable", 5),
                (None, "unreadable", 6),
            ],
            "{events:?}"
        );
    }

    #[test]
    fn a_prefix_matches_and_the_ring_count_still_counts() {
        let mut r = Run::new(screened(AnswerMode::CountRings(2), &["555*"]));
        // Not under the prefix.
        r.ring(0);
        r.modem(0, &block("4445550000"));
        // Under it: answered at the second ring, not at the number.
        r.ring(350);
        r.modem(350, &block("555 123-4"));
        r.wait_until(410);
        assert!(r.written.is_empty(), "carrier wrote {:?}", r.written);
        r.ring(410);
        assert_eq!(r.written, ["ATA"]);
        r.answer(connect(2400));
        let got = r.outcome().unwrap();
        assert_eq!(got.caller.as_deref(), Some("5551234"));
        assert_eq!(got.rings, 2);
        assert_eq!(got.refused, 1);
        assert_eq!(
            refusals(&r.events),
            vec![(Some("4445550000".into()), "not-allowed", 1)]
        );
    }

    #[test]
    fn a_new_caller_id_block_is_a_new_call() {
        let mut r = Run::new(screened(AnswerMode::CountRings(1), &["5550142"]));
        r.ring(0);
        r.modem(0, &block("5559999"));
        r.ring(0);
        // Within the ring gap, another caller: its RING, its block.
        r.ring(0);
        r.modem(0, &block("5550142"));
        assert_eq!(r.written, ["ATA"]);
        r.answer(connect(2400));
        let got = r.outcome().unwrap();
        assert_eq!(got.caller.as_deref(), Some("5550142"));
        assert_eq!(got.refused, 1);
        assert_eq!(got.rings, 1, "the RING before the block was its first");
    }

    #[test]
    fn two_numbers_in_one_block_are_not_believed() {
        let mut o = screened(AnswerMode::CountRings(2), &["555*"]);
        o.ring_timeout = Some(Duration::from_millis(400));
        let mut r = Run::new(o);
        r.modem(0, b"\r\nRING\r\n\r\nNMBR = 5550142\r\nNMBR = 5550143\r\n");
        let e = r.outcome().unwrap_err();
        assert!(matches!(e, AnswerError::NoCall { .. }), "{e}");
        assert!(r.written.is_empty(), "{:?}", r.written);
        assert_eq!(
            refusals(&r.events),
            vec![(Some("5550143".into()), "conflicting", 1)]
        );
    }

    #[test]
    fn screening_needs_the_ring_count_and_an_unasked_connect_is_an_error() {
        let o = screened(AnswerMode::ModemAnswers(1), &["5550142"]);
        let e = CallWait::new(&o, Instant::now()).err().unwrap();
        assert!(matches!(e, AnswerError::ScreeningNeedsRingCount), "{e}");

        let mut r = Run::new(screened(AnswerMode::CountRings(1), &["5550142"]));
        assert_eq!(r.wait.s0(), 0);
        r.modem(0, b"\r\nRING\r\n\r\nCONNECT 2400\r\n");
        let e = r.outcome().unwrap_err();
        assert!(matches!(e, AnswerError::Unscreened), "{e}");
    }

    #[test]
    fn counts_rings_answers_and_waits_again_after_a_failed_call() {
        let mut r = Run::new(opts(AnswerMode::CountRings(2)));
        // A first call that gives up after one ring.
        r.ring(0);
        // A second: two rings with caller ID, ATA, NO CARRIER.
        r.ring(250);
        r.modem(250, b"\r\nNMBR = 5551234\r\n");
        r.ring(280);
        assert_eq!(r.written, ["ATA"]);
        r.answer(ResultCode::NoCarrier);
        // A third: ATA, and no answer at all.
        r.ring(300);
        r.ring(300);
        r.wait.handle_answer_timeout();
        r.drain();
        assert_eq!(r.written, ["ATA", "ATA", "abort"]);
        // A fourth connects.
        r.ring(400);
        r.ring(400);
        r.answer(connect(33600));
        let got = r.outcome().unwrap();
        assert_eq!(got.connect.speed, Some(33600));
        assert_eq!(got.rings, 2);
        assert_eq!(got.caller, None, "the failed call's number is not kept");
        let fails: Vec<_> = r
            .events
            .iter()
            .filter_map(|e| match e {
                AnswerEvent::Failed { reason } => Some(reason.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            fails,
            [
                "the caller hung up while ringing",
                "NO CARRIER",
                "no CONNECT after ATA"
            ]
        );
        assert!(r.events.contains(&AnswerEvent::CallerId {
            field: CallerIdField::Number,
            value: "5551234".into()
        }));
    }

    #[test]
    fn the_modem_answers_by_itself_or_is_given_up_on() {
        let mut r = Run::new(opts(AnswerMode::ModemAnswers(2)));
        assert_eq!(r.wait.s0(), 2);
        r.ring(0);
        r.ring(10);
        assert_eq!(r.events.last(), Some(&AnswerEvent::Answering));
        // No CONNECT within connect_timeout: the modem is stopped.
        r.wait_until(10 + 300);
        assert_eq!(r.written, ["abort"]);
        assert_eq!(
            r.events.last(),
            Some(&AnswerEvent::Failed {
                reason: "the modem answered but no CONNECT came".into()
            })
        );
        r.ring(400);
        r.ring(410);
        r.modem(450, b"\r\nCONNECT 2400\r\n");
        let got = r.outcome().unwrap();
        assert_eq!(got.connect.speed, Some(2400));
        assert_eq!(got.rings, 2);
        assert_eq!(got.elapsed, Duration::from_millis(450));

        // The overall limit while the modem answers: stopped, no call.
        let mut o = opts(AnswerMode::ModemAnswers(1));
        o.ring_timeout = Some(Duration::from_millis(100));
        let mut r = Run::new(o);
        r.ring(50);
        let e = r.outcome().unwrap_err();
        assert!(
            matches!(e, AnswerError::NoCall { waited } if waited == Duration::from_millis(100)),
            "{e}"
        );
        assert_eq!(r.written, ["abort"]);
    }

    #[test]
    fn a_flood_of_caller_id_is_bounded_and_an_absurd_wait_is_no_panic() {
        let mut o = opts(AnswerMode::ModemAnswers(1));
        o.ring_timeout = Some(Duration::MAX);
        o.connect_timeout = Duration::from_secs(5);
        let mut r = Run::new(o);
        r.ring(0);
        for i in 0..200 {
            r.modem(0, format!("\r\nNAME = CALLER {i}\r\n").as_bytes());
        }
        r.modem(0, b"\r\nCONNECT 2400\r\n");
        let got = r.outcome().unwrap();
        let events = r
            .events
            .iter()
            .filter(|e| matches!(e, AnswerEvent::CallerId { .. }))
            .count();
        assert_eq!(got.caller_id.len(), MAX_CALLER_ID);
        assert_eq!(events, MAX_CALLER_ID);
        assert_eq!(got.connect.speed, Some(2400));
    }
}
