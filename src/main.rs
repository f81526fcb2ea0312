//! The `carrier` command line. Exit codes follow pppd(8) where pppd has
//! one (see README.md, "Exit codes").

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use carrier::events::{Format, Reporter};
use carrier::inbound::{self as inb, AuthKind, Partition, Store};
use carrier::net::fence::{FencePlane, FenceStats};
use carrier::net::probe::ProbePlane;
use carrier::net::tun::TunPlane;
use carrier::net::NoIp;
use carrier::ppp::auth::{AuthConfig, AuthProto, Secret};
use carrier::ppp::fsm::FsmConfig;
use carrier::ppp::link::{EchoConfig, LinkConfig};
use carrier::secrets::{read_private, SecretsTable};
use carrier::session::{self, Outcome, SessionConfig};
use carrier_hw::AsyncTty;
use clap::{ArgAction, Args, Parser, Subcommand};
use serde_json::json;
use tokio::sync::watch;

/// pppd's exit status 1: a fatal error (device, file).
const EXIT_FATAL: u8 = 1;
/// pppd's exit status 2: bad options or configuration.
const EXIT_CONFIG: u8 = 2;
/// No inbound call may be answered: not enabled, already used, disabled.
const EXIT_INBOUND_CLOSED: u8 = 20;

#[derive(Parser, Debug)]
#[command(name = "carrier", version, about = "Modem dialer and PPP stack")]
struct Cli {
    /// -v logs every frame in and out, decoded; -vv the state machines too.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    verbose: u8,
    /// `human` lines, or one JSON object per line for programs.
    #[arg(long, value_enum, default_value_t = Format::Human, global = true)]
    events: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Call out: bring up PPP as the client (PAP/CHAP peer, address by IPCP).
    /// With no --device, dials the built-in simulator.
    Dial(DialArgs),
    /// Take a call: PPP as the authenticator, giving the caller its address.
    Answer(AnswerArgs),
    /// Both ends in one process over a simulated serial cable, to watch a
    /// whole PPP session come up without any hardware.
    Demo(DemoArgs),
    /// The one-time enablement of an inbound service call.
    #[command(subcommand)]
    Inbound(InboundCommand),
}

#[derive(Subcommand, Debug)]
enum InboundCommand {
    /// Allow one service call: records what the caller may reach and
    /// prints the caller's credentials, once.
    Enable(EnableArgs),
    /// Revoke the enablement now; hangs up a call in progress.
    Disable(StateDirArg),
    /// Show whether inbound service is enabled, consumed or disabled.
    Status(StateDirArg),
}

#[derive(Args, Debug, Clone)]
struct StateDirArg {
    /// Where the enablement is kept.
    #[arg(long, env = "CARRIER_STATE_DIR", default_value = "/var/lib/carrier")]
    state_dir: PathBuf,
}

#[derive(Args, Debug)]
struct EnableArgs {
    #[command(flatten)]
    dir: StateDirArg,
    /// The console's address on the link.
    #[arg(long)]
    ppp_local: Ipv4Addr,
    /// The address given to the caller.
    #[arg(long)]
    ppp_remote: Ipv4Addr,
    /// A partition the caller may reach: NAME=ADDRESS[@ALIAS]. The alias
    /// defaults to host .11, .12, ... of the --ppp-local /24, in order.
    #[arg(long, value_name = "NAME=ADDR[@ALIAS]")]
    partition: Vec<String>,
    /// Let the caller reach the console itself, on the service ports only.
    #[arg(long)]
    console_access: bool,
    /// How the caller authenticates.
    #[arg(long, value_enum, default_value_t = AuthKind::Chap)]
    auth: AuthKind,
}

#[derive(Args, Debug)]
struct LineArgs {
    /// The serial device (or PTY) of the line.
    #[arg(long)]
    device: Option<PathBuf>,
    /// A null-modem line: no AT commands, PPP at once (pppd's `local`).
    #[arg(long)]
    direct: bool,
    /// Line speed in bit/s (a PTY ignores it).
    #[arg(long)]
    speed: Option<u32>,
    /// Write every PPP frame to this pcap file (link type 204).
    #[arg(long)]
    pcap: Option<PathBuf>,
    /// Name of the TUN interface created when IP comes up (pppd's `ifname`).
    #[arg(long, default_value = "carrier0")]
    ifname: String,
    /// Create no IP interface: bring the link up only.
    #[arg(long)]
    no_tun: bool,
}

impl LineArgs {
    fn ip_plane(&self) -> IpChoice {
        if self.no_tun {
            IpChoice::None(NoIp::default())
        } else {
            IpChoice::Tun(TunPlane::new(&self.ifname))
        }
    }
}

/// The IP plane chosen on the command line.
enum IpChoice {
    None(NoIp),
    Tun(TunPlane),
}

impl IpChoice {
    async fn run<L>(
        self,
        line: &mut L,
        cfg: SessionConfig,
        reporter: &Reporter,
        stop: watch::Receiver<bool>,
    ) -> Result<Outcome, Fatal>
    where
        L: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let r = match self {
            IpChoice::None(mut p) => session::run(line, &mut p, cfg, reporter, stop).await,
            IpChoice::Tun(mut p) => session::run(line, &mut p, cfg, reporter, stop).await,
        };
        r.map_err(|e| fatal(EXIT_FATAL, e.to_string()))
    }
}

/// Options in pppd's spirit, with pppd's names.
#[derive(Args, Debug, Clone)]
struct PppArgs {
    /// Maximum receive unit to ask for.
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u16).range(128..=16384))]
    mru: u16,
    /// Receive async control character map to ask for (hex).
    #[arg(long, value_parser = parse_hex_u32, default_value = "0")]
    asyncmap: u32,
    /// Send an LCP Echo-Request every N seconds.
    #[arg(long, value_name = "N")]
    lcp_echo_interval: Option<u64>,
    /// Declare the peer dead after N unanswered Echo-Requests.
    #[arg(long, value_name = "N", default_value_t = 4)]
    lcp_echo_failure: u32,
    /// Echo only when the peer has sent nothing since the last echo.
    #[arg(long)]
    lcp_echo_adaptive: bool,
    /// LCP/IPCP restart timer, seconds.
    #[arg(long, value_name = "S", default_value_t = 3)]
    lcp_restart: u64,
    /// Configure-Requests before giving up.
    #[arg(long, value_name = "N", default_value_t = 10)]
    lcp_max_configure: u32,
    /// Terminate-Requests before giving up.
    #[arg(long, value_name = "N", default_value_t = 2)]
    lcp_max_terminate: u32,
    /// Naks before rejecting instead.
    #[arg(long, value_name = "N", default_value_t = 5)]
    lcp_max_failure: u32,
    /// Keep waiting for the peer after Max-Configure requests.
    #[arg(long)]
    passive: bool,
    /// Do not negotiate a magic number.
    #[arg(long)]
    nomagic: bool,
    /// Do not ask for address/control field compression.
    #[arg(long)]
    noaccomp: bool,
    /// Do not ask for protocol field compression.
    #[arg(long)]
    nopcomp: bool,
}

#[derive(Args, Debug)]
struct DialArgs {
    #[command(flatten)]
    line: LineArgs,
    #[command(flatten)]
    ppp: PppArgs,
    /// Our name for PAP/CHAP.
    #[arg(long)]
    user: Option<String>,
    /// Our password. Visible to other users in `ps`: prefer --password-file.
    #[arg(long, conflicts_with = "password_file")]
    password: Option<String>,
    /// A file holding our password (mode 600), first line.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// A pppd-format secrets file to find our secret in.
    #[arg(long, value_name = "FILE")]
    secrets: Option<PathBuf>,
    /// The authenticator's name for secrets lookups (pppd's `remotename`).
    #[arg(long)]
    remotename: Option<String>,
    /// Ask the peer for DNS servers and report them.
    #[arg(long)]
    usepeerdns: bool,
    /// Require the peer to authenticate itself with PAP.
    #[arg(long)]
    require_pap: bool,
    /// Require the peer to authenticate itself with CHAP-MD5.
    #[arg(long)]
    require_chap: bool,
}

#[derive(Args, Debug)]
struct AnswerArgs {
    #[command(flatten)]
    line: LineArgs,
    #[command(flatten)]
    ppp: PppArgs,
    /// Our name as authenticator (CHAP Name, secrets lookups).
    #[arg(long, default_value = "carrier")]
    name: String,
    /// pppd-format secrets file of the callers we accept (mode 600).
    #[arg(long, value_name = "FILE", required_unless_present = "inbound")]
    secrets: Option<PathBuf>,
    /// Serve the one inbound service call that `carrier inbound enable`
    /// allowed: its credentials, addresses, partitions and firewall.
    #[arg(long, conflicts_with_all = ["secrets", "local", "remote"])]
    inbound: bool,
    #[command(flatten)]
    state: StateDirArg,
    /// Authenticate the caller with PAP (default: CHAP-MD5).
    #[arg(long)]
    require_pap: bool,
    /// Authenticate the caller with CHAP-MD5.
    #[arg(long)]
    require_chap: bool,
    /// Our address on the link.
    #[arg(long, required_unless_present = "inbound")]
    local: Option<Ipv4Addr>,
    /// The address given to the caller.
    #[arg(long, required_unless_present = "inbound")]
    remote: Option<Ipv4Addr>,
    /// DNS server offered to the caller (up to two).
    #[arg(long, value_name = "IP")]
    ms_dns: Vec<Ipv4Addr>,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Simulated line rate, bit/s.
    #[arg(long, default_value_t = 33600)]
    bitrate: u32,
    /// One-way latency of the simulated line, milliseconds.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Hang up after this many seconds at the latest, seconds.
    #[arg(long, default_value_t = 10)]
    hold: u64,
    /// Capture the dialing side's frames to this pcap file.
    #[arg(long)]
    pcap: Option<PathBuf>,
}

impl DemoArgs {
    fn default_for(dial: &DialArgs) -> DemoArgs {
        DemoArgs {
            bitrate: 33600,
            latency_ms: 50,
            hold: 10,
            pcap: dial.line.pcap.clone(),
        }
    }
}

/// A failure before or outside PPP, with its exit status.
struct Fatal {
    code: u8,
    message: String,
}

fn fatal(code: u8, message: impl Into<String>) -> Fatal {
    Fatal {
        code,
        message: message.into(),
    }
}

fn parse_hex_u32(s: &str) -> Result<u32, String> {
    let t = s.trim_start_matches("0x").trim_start_matches("0X");
    u32::from_str_radix(t, 16).map_err(|e| format!("{s:?} is not a hex number: {e}"))
}

fn init_logging(verbose: u8) {
    let filter = match verbose {
        0 => "warn",
        1 => "info,carrier::frame=debug",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CARRIER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("carrier: cannot start: {e}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            // No line given: the built-in simulator stands in for the modem
            // and the network.
            Command::Dial(a) if a.line.device.is_none() && !a.line.direct => {
                demo(DemoArgs::default_for(&a), cli.events).await
            }
            Command::Dial(a) => dial(a, cli.events).await,
            Command::Answer(a) => answer(a, cli.events).await,
            Command::Demo(a) => demo(a, cli.events).await,
            Command::Inbound(c) => inbound(c, cli.events),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("carrier: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn link_config(p: &PppArgs) -> LinkConfig {
    let fsm = FsmConfig {
        restart: Duration::from_secs(p.lcp_restart.max(1)),
        max_terminate: p.lcp_max_terminate,
        max_configure: p.lcp_max_configure,
        max_failure: p.lcp_max_failure,
        passive: p.passive,
    };
    let mut c = LinkConfig {
        lcp_fsm: fsm,
        ipcp_fsm: fsm,
        echo: EchoConfig {
            interval: p.lcp_echo_interval.map(Duration::from_secs),
            failure: p.lcp_echo_failure,
            adaptive: p.lcp_echo_adaptive,
        },
        ..LinkConfig::default()
    };
    c.lcp.mru = p.mru;
    c.lcp.accm = p.asyncmap;
    c.lcp.magic = !p.nomagic;
    c.lcp.acfc = !p.noaccomp;
    c.lcp.pfc = !p.nopcomp;
    c
}

fn required_auth(pap: bool, chap: bool) -> Vec<AuthProto> {
    let mut v = Vec::new();
    if chap {
        v.push(AuthProto::ChapMd5);
    }
    if pap {
        v.push(AuthProto::Pap);
    }
    v
}

fn load_secrets(path: &Path) -> Result<SecretsTable, Fatal> {
    SecretsTable::load(path).map_err(|e| fatal(EXIT_CONFIG, e.to_string()))
}

fn open_line(line: &LineArgs) -> Result<AsyncTty, Fatal> {
    if !line.direct {
        return Err(fatal(
            EXIT_CONFIG,
            "dialing through a modem is not available yet: give --direct for a null-modem line",
        ));
    }
    let Some(device) = &line.device else {
        return Err(fatal(EXIT_CONFIG, "--direct needs --device PATH"));
    };
    AsyncTty::open(device, line.speed).map_err(|e| fatal(EXIT_FATAL, e.to_string()))
}

/// SIGINT and SIGTERM ask the session to terminate the link.
fn stop_on_signals() -> Result<watch::Receiver<bool>, Fatal> {
    use tokio::signal::unix::{signal, SignalKind};
    let (tx, rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate()).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
            // Each signal is a new change, so a second one forces the stop.
            tx.send_modify(|v| *v = true);
        }
    });
    Ok(rx)
}

fn finish(reporter: &Reporter, outcome: &Outcome) -> u8 {
    reporter.emit(
        "stats",
        json!({"link": outcome.link, "framing": outcome.framing, "ip_dropped": outcome.ip_dropped}),
        &format!(
            "{} frames in ({} IP), {} out ({} IP); {} discarded by the framer, {} malformed, {} protocol-rejected",
            outcome.link.frames_in,
            outcome.link.ip_in,
            outcome.link.frames_out + outcome.link.ip_out,
            outcome.link.ip_out,
            outcome.framing.discarded(),
            outcome.link.malformed + outcome.link.bad_header,
            outcome.link.protocol_rejected
        ),
    );
    outcome.exit_code() as u8
}

async fn dial(a: DialArgs, format: Format) -> Result<u8, Fatal> {
    let mut link = link_config(&a.ppp);
    link.ipcp.request_dns = a.usepeerdns;
    link.lcp.require_auth = required_auth(a.require_pap, a.require_chap);
    let password = match (&a.password, &a.password_file) {
        (Some(p), _) => Some(Secret::new(p.as_bytes())),
        (None, Some(f)) => {
            let text = read_private(f).map_err(|e| fatal(EXIT_CONFIG, e.to_string()))?;
            Some(Secret::new(text.lines().next().unwrap_or("").as_bytes()))
        }
        (None, None) => None,
    };
    let secrets = match &a.secrets {
        Some(p) => load_secrets(p)?,
        None => SecretsTable::default(),
    };
    if password.is_some() && a.user.is_none() {
        return Err(fatal(EXIT_CONFIG, "--password needs --user"));
    }
    link.auth = AuthConfig {
        name: a.user.clone().unwrap_or_default(),
        password,
        secrets: Arc::new(secrets),
        remote_name: a.remotename.clone(),
    };
    let mut tty = open_line(&a.line)?;
    let reporter = Reporter::new(format);
    reporter.emit(
        "connect",
        json!({"device": tty.path(), "speed": a.line.speed, "direct": true}),
        &format!("{}: direct line, starting PPP", tty.path().display()),
    );
    let stop = stop_on_signals()?;
    let cfg = SessionConfig {
        link,
        pcap: a.line.pcap.clone(),
        ..SessionConfig::default()
    };
    let outcome = a
        .line
        .ip_plane()
        .run(&mut tty, cfg, &reporter, stop)
        .await?;
    Ok(finish(&reporter, &outcome))
}

fn answer_link(a: &AnswerArgs, secrets: SecretsTable) -> Result<LinkConfig, Fatal> {
    if a.ms_dns.len() > 2 {
        return Err(fatal(EXIT_CONFIG, "at most two --ms-dns servers"));
    }
    let mut link = link_config(&a.ppp);
    let require = required_auth(a.require_pap, a.require_chap);
    link.lcp.require_auth = if require.is_empty() {
        vec![AuthProto::ChapMd5]
    } else {
        require
    };
    link.ipcp.local = a.local;
    link.ipcp.remote = a.remote;
    link.ipcp.dns = [a.ms_dns.first().copied(), a.ms_dns.get(1).copied()];
    link.auth = AuthConfig {
        name: a.name.clone(),
        secrets: Arc::new(secrets),
        ..AuthConfig::default()
    };
    Ok(link)
}

async fn answer(a: AnswerArgs, format: Format) -> Result<u8, Fatal> {
    if a.inbound {
        return answer_inbound(a, format).await;
    }
    let path = a.secrets.clone().unwrap_or_default();
    let secrets = load_secrets(&path)?;
    if secrets.is_empty() {
        return Err(fatal(
            EXIT_CONFIG,
            format!("{}: no secrets: nobody could log in", path.display()),
        ));
    }
    let link = answer_link(&a, secrets)?;
    let mut tty = open_line(&a.line)?;
    let reporter = Reporter::new(format);
    reporter.emit(
        "connect",
        json!({"device": tty.path(), "speed": a.line.speed, "direct": true}),
        &format!("{}: direct line, waiting for PPP", tty.path().display()),
    );
    let stop = stop_on_signals()?;
    let cfg = SessionConfig {
        link,
        pcap: a.line.pcap.clone(),
        ..SessionConfig::default()
    };
    let outcome = a
        .line
        .ip_plane()
        .run(&mut tty, cfg, &reporter, stop)
        .await?;
    Ok(finish(&reporter, &outcome))
}

/// Both ends over a paced PTY cable: an access server asking for PAP and
/// giving out an address and DNS, and a client dialing in.
async fn demo(a: DemoArgs, format: Format) -> Result<u8, Fatal> {
    use carrier_sim::{LineProfile, NullModem};

    let profile = LineProfile {
        bitrate: Some(a.bitrate),
        latency: Duration::from_millis(a.latency_ms),
    };
    let cable = NullModem::spawn(profile).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    let mut server_tty =
        AsyncTty::open(cable.end_a(), None).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    let mut client_tty =
        AsyncTty::open(cable.end_b(), None).map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;

    let reporter = Reporter::new(format);
    reporter.emit(
        "demo",
        json!({"bitrate": a.bitrate, "latency_ms": a.latency_ms,
               "server_device": cable.end_a(), "client_device": cable.end_b()}),
        &format!(
            "simulated line {} bit/s, {} ms latency: server on {}, client on {}",
            a.bitrate,
            a.latency_ms,
            cable.end_a().display(),
            cable.end_b().display()
        ),
    );

    let mut server = LinkConfig::default();
    server.lcp.require_auth = vec![AuthProto::Pap];
    server.ipcp.local = Some(Ipv4Addr::new(10, 64, 0, 1));
    server.ipcp.remote = Some(Ipv4Addr::new(10, 64, 0, 2));
    server.ipcp.dns = [Some(Ipv4Addr::new(10, 64, 0, 53)), None];
    server.auth = AuthConfig {
        name: "access-server".into(),
        secrets: Arc::new(SecretsTable::single(
            "demo",
            "*",
            Secret::new("demo-password"),
        )),
        ..AuthConfig::default()
    };
    let mut client = LinkConfig::default();
    client.ipcp.request_dns = true;
    client.echo.interval = Some(Duration::from_secs(1));
    client.echo.failure = 3;
    client.auth = AuthConfig {
        name: "demo".into(),
        password: Some(Secret::new("demo-password")),
        ..AuthConfig::default()
    };

    let (server_stop_tx, server_stop) = watch::channel(false);
    let (client_stop_tx, client_stop) = watch::channel(false);
    let signals = stop_on_signals()?;
    let server_rep = Reporter::new(format).with_label("server");
    let client_rep = Reporter::new(format).with_label("client");

    // Behind the server: one service host and the DNS server, fenced.
    let service = Ipv4Addr::new(10, 64, 1, 10);
    let outside = Ipv4Addr::new(10, 64, 9, 99);
    let fence_stats = Arc::new(FenceStats::default());
    let mut server_ip = FencePlane::new(
        vec![service],
        vec![Ipv4Addr::new(10, 64, 0, 53)],
        fence_stats.clone(),
    );
    let (probes_done_tx, mut probes_done) = watch::channel(false);
    let mut client_ip = ProbePlane::new(NoIp::default(), &[service, outside], client_rep.clone())
        .notify_finished(probes_done_tx);
    let server_task = session::run(
        &mut server_tty,
        &mut server_ip,
        SessionConfig {
            link: server,
            pcap: None,
            ..SessionConfig::default()
        },
        &server_rep,
        server_stop,
    );
    let client_task = session::run(
        &mut client_tty,
        &mut client_ip,
        SessionConfig {
            link: client,
            pcap: a.pcap.clone(),
            ..SessionConfig::default()
        },
        &client_rep,
        client_stop,
    );
    // Hang up from the client side once the probes are done (or after
    // `hold` seconds), or at once on a signal.
    let hold = Duration::from_secs(a.hold);
    let hangup = async {
        let mut signals = signals;
        tokio::select! {
            _ = tokio::time::sleep(hold) => {}
            _ = probes_done.wait_for(|d| *d) => {}
            _ = signals.changed() => {}
        }
        let _ = client_stop_tx.send(true);
        std::future::pending::<()>().await;
    };
    let (s, c) = tokio::select! {
        r = async { tokio::join!(server_task, client_task) } => r,
        _ = hangup => unreachable!("hangup never completes"),
    };
    drop(server_stop_tx);
    let (s, c) = (
        s.map_err(|e| fatal(EXIT_FATAL, e.to_string()))?,
        c.map_err(|e| fatal(EXIT_FATAL, e.to_string()))?,
    );
    finish(&client_rep, &c);
    finish(&server_rep, &s);
    server_rep.emit(
        "fence",
        json!({"fence": &*fence_stats}),
        &format!(
            "fence: {} datagrams forwarded, {} dropped at the fence",
            fence_stats
                .forwarded
                .load(std::sync::atomic::Ordering::Relaxed),
            fence_stats.dropped()
        ),
    );
    // Success: the client hung up (user request) and the server saw it.
    let ok = c.reason == carrier::ppp::DownReason::UserRequest
        && s.reason == carrier::ppp::DownReason::PeerTerminated;
    Ok(if ok { 0 } else { c.exit_code() as u8 })
}

fn parse_partition(spec: &str, ppp_local: Ipv4Addr, n: usize) -> Result<Partition, Fatal> {
    let bad = || {
        fatal(
            EXIT_CONFIG,
            format!("--partition {spec:?}: expected NAME=ADDRESS[@ALIAS]"),
        )
    };
    let (name, rest) = spec.split_once('=').ok_or_else(bad)?;
    let (addr, alias) = match rest.split_once('@') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    if name.is_empty() {
        return Err(bad());
    }
    let address: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let alias = match alias {
        Some(a) => a.parse().map_err(|_| bad())?,
        None => inb::state::default_alias(ppp_local, n),
    };
    Ok(Partition {
        name: name.to_string(),
        address,
        alias,
    })
}

fn inbound_error(e: inb::InboundError) -> Fatal {
    use inb::InboundError as E;
    let code = match &e {
        E::NotEnabled | E::Consumed(_) | E::Disabled(_) => EXIT_INBOUND_CLOSED,
        E::Invalid(_) | E::Corrupt { .. } | E::Secrets(_) => EXIT_CONFIG,
        E::Io { .. } => EXIT_FATAL,
    };
    fatal(code, e.to_string())
}

fn inbound(c: InboundCommand, format: Format) -> Result<u8, Fatal> {
    let reporter = Reporter::new(format);
    match c {
        InboundCommand::Enable(a) => {
            let store = Store::new(&a.dir.state_dir);
            let partitions = a
                .partition
                .iter()
                .enumerate()
                .map(|(i, p)| parse_partition(p, a.ppp_local, i))
                .collect::<Result<Vec<_>, _>>()?;
            let e = inb::call::enable(
                &store,
                a.ppp_local,
                a.ppp_remote,
                partitions,
                a.console_access,
                a.auth,
            )
            .map_err(inbound_error)?;
            // The one time the secret is shown: for the customer to pass on.
            reporter.emit(
                "inbound-enabled",
                json!({"user": e.user, "secret": e.secret.reveal(), "auth": e.auth,
                       "ppp_local": e.ppp_local, "ppp_remote": e.ppp_remote,
                       "partitions": e.partitions, "console_access": e.console_access}),
                &format!(
                    "inbound service enabled for one call\n  user:   {}\n  secret: {}\n  (shown once; pass both to the service representative)",
                    e.user,
                    e.secret.reveal()
                ),
            );
            Ok(0)
        }
        InboundCommand::Disable(d) => {
            let store = Store::new(&d.state_dir);
            let pid = inb::call::disable(&store).map_err(inbound_error)?;
            reporter.emit(
                "inbound-disabled",
                json!({"hung_up_pid": pid}),
                &match pid {
                    Some(p) => format!(
                        "inbound service disabled; call in progress (pid {p}) told to hang up"
                    ),
                    None => "inbound service disabled".to_string(),
                },
            );
            Ok(0)
        }
        InboundCommand::Status(d) => {
            let store = Store::new(&d.state_dir);
            match store.load().map_err(inbound_error)? {
                None => reporter.emit("inbound-status", json!({"state": "none"}), "inbound service: never enabled"),
                Some(e) => reporter.emit(
                    "inbound-status",
                    json!({"state": e.state, "enabled_at": e.enabled_at, "consumed_at": e.consumed_at,
                           "disabled_at": e.disabled_at, "user": e.user, "auth": e.auth,
                           "ppp_local": e.ppp_local, "ppp_remote": e.ppp_remote,
                           "partitions": e.partitions, "console_access": e.console_access,
                           "call_pid": e.call_pid}),
                    &format!(
                        "inbound service: {:?} (enabled at {}{}{}); caller {} gets {}, console {}, partitions: {}",
                        e.state,
                        e.enabled_at,
                        e.consumed_at.map(|t| format!(", used at {t}")).unwrap_or_default(),
                        e.disabled_at.map(|t| format!(", disabled at {t}")).unwrap_or_default(),
                        e.user,
                        e.ppp_remote,
                        if e.console_access { "reachable on service ports" } else { "unreachable" },
                        if e.partitions.is_empty() {
                            "none".to_string()
                        } else {
                            e.partitions.iter().map(|p| format!("{}={}@{}", p.name, p.address, p.alias)).collect::<Vec<_>>().join(" ")
                        }
                    ),
                ),
            }
            Ok(0)
        }
    }
}

/// `carrier answer --inbound`: serve the one enabled call.
async fn answer_inbound(a: AnswerArgs, format: Format) -> Result<u8, Fatal> {
    let store = Store::new(&a.state.state_dir);
    let e = inb::call::prepare(&store).map_err(inbound_error)?;
    let mut link = link_config(&a.ppp);
    link.lcp.require_auth = vec![match e.auth {
        AuthKind::Chap => AuthProto::ChapMd5,
        AuthKind::Pap => AuthProto::Pap,
    }];
    link.ipcp.local = Some(e.ppp_local);
    link.ipcp.remote = Some(e.ppp_remote);
    link.ipcp.dns = [a.ms_dns.first().copied(), a.ms_dns.get(1).copied()];
    link.auth = AuthConfig {
        name: a.name.clone(),
        secrets: Arc::new(SecretsTable::single(
            &e.user,
            "*",
            Secret::new(e.secret.reveal().as_bytes()),
        )),
        ..AuthConfig::default()
    };
    let mut tty = open_line(&a.line)?;
    let reporter = Reporter::new(format);
    reporter.emit(
        "connect",
        json!({"device": tty.path(), "speed": a.line.speed, "direct": true, "inbound": true}),
        &format!(
            "{}: direct line, waiting for the service call",
            tty.path().display()
        ),
    );
    let stop = stop_on_signals()?;
    // `disable` from another shell hangs the call up.
    let (revoke_tx, mut revoke) = watch::channel(false);
    let watch_store = store.clone();
    let watcher = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if !inb::call::still_allowed(&watch_store) {
                let _ = revoke_tx.send(true);
                return;
            }
        }
    });
    let (stop_tx, merged) = watch::channel(false);
    let mut signals = stop;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = signals.changed() => if r.is_err() { return },
                r = revoke.changed() => if r.is_err() { return },
            }
            stop_tx.send_modify(|v| *v = true);
        }
    });
    let cfg = SessionConfig {
        link,
        pcap: a.line.pcap.clone(),
        auth_gate: Some(inb::call::consuming_gate(&store)),
    };
    let mut plane = inb::plane::InboundPlane::new(&a.line.ifname, e);
    let outcome = session::run(&mut tty, &mut plane, cfg, &reporter, merged).await;
    drop(plane);
    watcher.abort();
    inb::call::finish(&store).map_err(inbound_error)?;
    let outcome = outcome.map_err(|e| fatal(EXIT_FATAL, e.to_string()))?;
    Ok(finish(&reporter, &outcome))
}
