//! The phone exchange: maps numbers to destinations and connects calls:
//! to another simulated modem (which rings), to a built-in condition
//! (busy, no answer, no dial tone) or to a service that the embedding
//! program supplies (an access server, say).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};

use crate::at::Dial;
use crate::cid::CallingLine;
use crate::error::SimError;
use crate::fault::FaultSpec;
use crate::line::{self, LineSpec};
use crate::pace::LineProfile;
use crate::scale::TimeScale;

/// Something that answers calls: registered under a name, reached by
/// routes whose destination is that name.
pub trait Service: Send + Sync + 'static {
    /// A call was answered by this service. `line` carries the call's
    /// bytes both ways, already paced; dropping it hangs up, and the
    /// caller's hangup shows as EOF. Called within the tokio runtime:
    /// spawn a task to serve the call.
    fn answer(&self, line: DuplexStream, caller: CallInfo);
}

/// A closure answers calls as well, so a service needs no type of its own
/// (and its crate need not know this one).
impl<F> Service for F
where
    F: Fn(DuplexStream, CallInfo) + Send + Sync + 'static,
{
    fn answer(&self, line: DuplexStream, caller: CallInfo) {
        self(line, caller)
    }
}

/// What a service learns about a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallInfo {
    /// The calling modem (`modem0`).
    pub caller: String,
    /// The number as the exchange routed it (normalised).
    pub number: String,
    /// The connection speed, bit/s.
    pub speed: u32,
    /// The call's number in this run, for logs.
    pub call: u64,
    /// Who is calling, as caller ID presents it: the caller's own number
    /// (None when it has none or withholds it) and name.
    pub calling: CallingLine,
}

/// Where a number leads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Another simulated modem, by index: it rings.
    Modem(usize),
    /// The dialing modem hears a busy signal.
    Busy,
    /// It rings until the caller gives up (S7).
    NoAnswer,
    /// The line has no dial tone.
    NoDialtone,
    /// A registered service, by name.
    Service(String),
}

impl FromStr for Destination {
    type Err = String;

    fn from_str(s: &str) -> Result<Destination, String> {
        let lower = s.trim().to_ascii_lowercase();
        if let Some(k) = lower.strip_prefix("modem") {
            if !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) {
                return k
                    .parse()
                    .map(Destination::Modem)
                    .map_err(|_| format!("bad modem number in {s:?}"));
            }
        }
        Ok(match lower.as_str() {
            "busy" => Destination::Busy,
            "no-answer" => Destination::NoAnswer,
            "no-dialtone" => Destination::NoDialtone,
            name if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Destination::Service(name.to_string())
            }
            _ => return Err(format!("bad destination {s:?}")),
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Modem(k) => write!(f, "modem{k}"),
            Destination::Busy => f.write_str("busy"),
            Destination::NoAnswer => f.write_str("no-answer"),
            Destination::NoDialtone => f.write_str("no-dialtone"),
            Destination::Service(name) => f.write_str(name),
        }
    }
}

/// A number's destination and the faults of calls to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub dest: Destination,
    pub faults: FaultSpec,
}

/// A number as the exchange compares it: the dialable symbols (digits,
/// `*`, `#`, `A`-`D`) in order, without spaces, dashes, brackets, dots
/// or dial modifiers.
pub fn normalize(number: &str) -> String {
    number
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A' | 'B' | 'C' | 'D'))
        .collect()
}

/// How a call attempt went, as the calling modem learns it.
#[derive(Debug)]
pub(crate) enum Progress {
    Busy,
    /// No such number.
    Unobtainable,
    Connected(Connection),
}

#[derive(Debug)]
pub(crate) struct Connection {
    pub stream: DuplexStream,
    pub speed: u32,
}

/// A call offered to a modem; it rings, answers through `reply`, or
/// replies Busy. The caller giving up closes `reply`.
#[derive(Debug)]
pub(crate) struct Offer {
    pub info: CallInfo,
    pub caller_profile: LineProfile,
    /// The route's faults over the caller's.
    pub faults: FaultSpec,
    pub reply: oneshot::Sender<Progress>,
}

/// The calling side of a call attempt.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub index: usize,
    pub name: String,
    pub speed: u32,
    pub latency: Duration,
    pub faults: FaultSpec,
    /// Its identity as the called line learns it.
    pub calling: CallingLine,
}

/// Timings of the exchange, before scaling.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// From the start of one RING to the next.
    pub ring_cadence: Duration,
    /// How long a busy signal plays before a modem reports it.
    pub busy_after: Duration,
    /// How long a service lets it ring before answering.
    pub service_answer_after: Duration,
    /// How long an unrouted number takes to fail.
    pub unobtainable_after: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            ring_cadence: Duration::from_secs(6),
            busy_after: Duration::from_secs(1),
            service_answer_after: Duration::from_secs(2),
            unobtainable_after: Duration::from_secs(2),
        }
    }
}

impl Timing {
    /// How long RI stays on in each cadence: the 2 s of a North
    /// American ring, or a third of a short test cadence.
    pub fn ring_on(&self) -> Duration {
        self.ring_cadence.min(Duration::from_secs(6)) / 3
    }
}

pub struct Exchange {
    routes: HashMap<String, Route>,
    services: HashMap<String, Arc<dyn Service>>,
    modems: Vec<mpsc::Sender<Offer>>,
    names: Vec<String>,
    scale: TimeScale,
    seed: u64,
    timing: Timing,
    calls: AtomicU64,
}

impl Exchange {
    pub(crate) fn new(
        routes: Vec<(String, Route)>,
        services: HashMap<String, Arc<dyn Service>>,
        modems: Vec<mpsc::Sender<Offer>>,
        scale: TimeScale,
        seed: u64,
        timing: Timing,
    ) -> Result<Exchange, SimError> {
        let mut table = HashMap::new();
        for (number, route) in routes {
            let key = normalize(&number);
            let bad = |reason: String| SimError::Route {
                route: format!("{number}={}", route.dest),
                reason,
            };
            if key.is_empty() {
                return Err(bad("the number has no digits".into()));
            }
            match &route.dest {
                Destination::Modem(k) if *k >= modems.len() => {
                    return Err(bad(format!("there are only {} modems", modems.len())));
                }
                Destination::Service(name) if !services.contains_key(name) => {
                    return Err(SimError::NoService(name.clone()));
                }
                _ => {}
            }
            route.faults.validate().map_err(bad)?;
            table.insert(key, route);
        }
        let names = (0..modems.len()).map(|i| format!("modem{i}")).collect();
        Ok(Exchange {
            routes: table,
            services,
            modems,
            names,
            scale,
            seed,
            timing,
            calls: AtomicU64::new(0),
        })
    }

    pub fn scale(&self) -> TimeScale {
        self.scale
    }

    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// The route for a dial string: all its digits first, then the digits
    /// after an outside-line prefix (see [`Dial::candidates`]).
    pub(crate) fn resolve(&self, dial: &Dial) -> (String, Option<Route>) {
        let candidates = dial.candidates();
        for number in &candidates {
            if let Some(route) = self.routes.get(number) {
                return (number.clone(), Some(route.clone()));
            }
        }
        (candidates.into_iter().next().unwrap_or_default(), None)
    }

    pub(crate) fn line_spec(&self, profile: LineProfile, faults: FaultSpec, call: u64) -> LineSpec {
        LineSpec {
            profile,
            scale: self.scale,
            faults,
            seed: self.seed,
            call,
        }
    }

    /// Places a call; the receiver learns how it went. If it never
    /// answers, the receiver just waits: the caller's S7 decides.
    pub(crate) fn place(
        &self,
        caller: &Caller,
        number: String,
        route: Option<&Route>,
    ) -> oneshot::Receiver<Progress> {
        let (tx, rx) = oneshot::channel();
        let call = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let info = CallInfo {
            caller: caller.name.clone(),
            number,
            speed: caller.speed,
            call,
            calling: caller.calling.clone(),
        };
        let Some(route) = route else {
            tracing::info!(call, caller = %caller.name, number = %info.number, "no route: unobtainable");
            self.later(tx, self.timing.unobtainable_after, Progress::Unobtainable);
            return rx;
        };
        tracing::info!(
            call,
            caller = %caller.name,
            from = info.calling.number.as_deref().unwrap_or("private"),
            number = %info.number,
            dest = %route.dest,
            "call"
        );
        let faults = route.faults.or(&caller.faults);
        let profile = LineProfile {
            bitrate: Some(caller.speed),
            latency: caller.latency,
        };
        match &route.dest {
            Destination::Modem(k) if *k == caller.index => {
                self.later(tx, self.timing.busy_after, Progress::Busy);
            }
            Destination::Modem(k) => {
                let offer = Offer {
                    info,
                    caller_profile: profile,
                    faults,
                    reply: tx,
                };
                if let Err(e) = self.modems[*k].try_send(offer) {
                    let offer = match e {
                        mpsc::error::TrySendError::Full(o)
                        | mpsc::error::TrySendError::Closed(o) => o,
                    };
                    tracing::info!(call, callee = %self.names[*k], "callee cannot take the call: busy");
                    self.later(offer.reply, self.timing.busy_after, Progress::Busy);
                }
            }
            Destination::Busy => self.later(tx, self.timing.busy_after, Progress::Busy),
            Destination::NoAnswer => {
                // Ring forever: hold the reply until the caller hangs up.
                let mut tx = tx;
                tokio::spawn(async move { tx.closed().await });
            }
            // The dialing modem handles a missing dial tone itself.
            Destination::NoDialtone => {}
            Destination::Service(name) => {
                let Some(service) = self.services.get(name).cloned() else {
                    self.later(tx, self.timing.unobtainable_after, Progress::Unobtainable);
                    return rx;
                };
                let spec = self.line_spec(profile, faults, call);
                let delay = self.scale.apply(self.timing.service_answer_after);
                tokio::spawn(answer_by_service(service, spec, info, tx, delay));
            }
        }
        rx
    }

    fn later(&self, mut tx: oneshot::Sender<Progress>, after: Duration, progress: Progress) {
        let after = self.scale.apply(after);
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(after) => { let _ = tx.send(progress); }
                () = tx.closed() => {}
            }
        });
    }
}

async fn answer_by_service(
    service: Arc<dyn Service>,
    spec: LineSpec,
    info: CallInfo,
    mut tx: oneshot::Sender<Progress>,
    delay: Duration,
) {
    tokio::select! {
        () = tokio::time::sleep(delay) => {}
        () = tx.closed() => return,
    }
    let speed = info.speed;
    let (caller_end, service_end) = line::connect(spec);
    service.answer(service_end, info);
    let _ = tx.send(Progress::Connected(Connection {
        stream: caller_end,
        speed,
    }));
}

/// Built in as `silent`: answers, then never sends a byte (a peer that
/// never answers LCP); reads and discards until the caller hangs up.
pub struct Silent;

impl Service for Silent {
    fn answer(&self, mut line: DuplexStream, caller: CallInfo) {
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            while matches!(line.read(&mut buf).await, Ok(n) if n > 0) {}
            tracing::debug!(call = caller.call, "silent service: caller hung up");
        });
    }
}

/// Built in as `echo`: sends back every byte it receives.
pub struct Echo;

impl Service for Echo {
    fn answer(&self, line: DuplexStream, caller: CallInfo) {
        tokio::spawn(async move {
            let (mut r, mut w) = tokio::io::split(line);
            let _ = tokio::io::copy(&mut r, &mut w).await;
            let _ = w.shutdown().await;
            tracing::debug!(call = caller.call, "echo service: caller hung up");
        });
    }
}

/// The services every simulator has unless the embedding program
/// registers its own under the same names.
pub fn builtin_services() -> [(&'static str, Arc<dyn Service>); 2] {
    [("silent", Arc::new(Silent)), ("echo", Arc::new(Echo))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse() {
        assert_eq!("modem3".parse(), Ok(Destination::Modem(3)));
        assert_eq!("Modem0".parse(), Ok(Destination::Modem(0)));
        assert_eq!("busy".parse(), Ok(Destination::Busy));
        assert_eq!("no-answer".parse(), Ok(Destination::NoAnswer));
        assert_eq!("no-dialtone".parse(), Ok(Destination::NoDialtone));
        assert_eq!(
            "access-server".parse(),
            Ok(Destination::Service("access-server".into()))
        );
        // Not a modem index: a service name.
        assert_eq!("modemx".parse(), Ok(Destination::Service("modemx".into())));
        assert!("".parse::<Destination>().is_err());
        assert!("a b".parse::<Destination>().is_err());
        assert!("modem99999999999999999999999"
            .parse::<Destination>()
            .is_err());
        for d in ["modem2", "busy", "no-answer", "no-dialtone", "echo"] {
            assert_eq!(d.parse::<Destination>().unwrap().to_string(), d);
        }
    }

    #[test]
    fn numbers_normalise() {
        assert_eq!(normalize("555-0100"), "5550100");
        assert_eq!(normalize(" (555) 01.00 "), "5550100");
        assert_eq!(normalize("T9,W555"), "9555");
        assert_eq!(normalize("*70#"), "*70#");
        assert_eq!(normalize("--"), "");
    }

    fn exchange(routes: Vec<(&str, &str)>) -> Result<Exchange, SimError> {
        let routes = routes
            .into_iter()
            .map(|(n, d)| {
                (
                    n.to_string(),
                    Route {
                        dest: d.parse().unwrap(),
                        faults: FaultSpec::default(),
                    },
                )
            })
            .collect();
        let (tx, _rx) = mpsc::channel(1);
        let services: HashMap<String, Arc<dyn Service>> = builtin_services()
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect();
        Exchange::new(
            routes,
            services,
            vec![tx],
            TimeScale::REAL,
            0,
            Timing::default(),
        )
    }

    #[test]
    fn routes_are_checked() {
        assert!(exchange(vec![("555", "modem0"), ("556", "echo")]).is_ok());
        assert!(matches!(
            exchange(vec![("555", "modem1")]),
            Err(SimError::Route { .. })
        ));
        let e = exchange(vec![("555", "access-server")]).err().unwrap();
        assert_eq!(
            e.to_string(),
            "no service named access-server in this build"
        );
        assert!(matches!(
            exchange(vec![("-", "busy")]),
            Err(SimError::Route { .. })
        ));
    }

    #[test]
    fn resolves_with_and_without_an_outside_line_prefix() {
        let x = exchange(vec![("555-0100", "busy"), ("95550199", "no-answer")]).unwrap();
        let route = |s: &str| {
            let (n, r) = x.resolve(&Dial::parse(s.as_bytes()).unwrap());
            (n, r.map(|r| r.dest))
        };
        assert_eq!(
            route("T5550100"),
            ("5550100".into(), Some(Destination::Busy))
        );
        assert_eq!(
            route("T9,5550100"),
            ("5550100".into(), Some(Destination::Busy))
        );
        assert_eq!(
            route("T9W555-0100"),
            ("5550100".into(), Some(Destination::Busy))
        );
        assert_eq!(
            route("T9,5550199"),
            ("95550199".into(), Some(Destination::NoAnswer))
        );
        assert_eq!(route("T5550111"), ("5550111".into(), None));
    }
}
