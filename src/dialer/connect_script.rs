//! A user's chat(8) connect script in place of the built-in dialer, as
//! pppd's `connect 'chat -f FILE'` would run it; `\T` is the first number.

use std::path::Path;

use carrier_hw::AsyncTty;
use serde_json::json;

use crate::events::Reporter;
use crate::exit;
use crate::modem::chat::{run_script, tty_break, ChatConfig, Script, ScriptEvent};
use crate::modem::result::Connect;
use crate::modem::AtPort;

/// The script's text. chat reads any script, but one with `word:` in it
/// holds a password, so say so when others can read it: the mode is the
/// open file's, the one that is read.
fn read_script(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mode = f
        .metadata()
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            script = %path.display(),
            mode = format!("{:04o}", mode & 0o7777),
            "the connect script is readable by others: chmod 600 it if it holds a password"
        );
    }
    let mut text = Vec::new();
    f.read_to_end(&mut text).map_err(|e| e.to_string())?;
    Ok(text)
}

/// Runs the script; Ok with the speed of a reported CONNECT, or Err with
/// the exit status (chat's own status is in the event).
pub async fn run_connect_script(
    at: &mut AtPort<AsyncTty>,
    path: &Path,
    phone: &str,
    reporter: &Reporter,
) -> Result<Option<u32>, u8> {
    let script =
        match read_script(path).and_then(|t| Script::parse_bytes(&t).map_err(|e| e.to_string())) {
            Ok(s) => s,
            Err(e) => {
                reporter.emit(
                    "connect-script-failed",
                    json!({"script": path, "reason": e}),
                    &format!("{}: {e}", path.display()),
                );
                return Err(exit::CONFIG);
            }
        };
    let cfg = ChatConfig {
        phone: (!phone.is_empty()).then(|| phone.to_string()),
        ..ChatConfig::default()
    };
    let run = run_script(at, script, cfg, tty_break, |ev| match ev {
        ScriptEvent::Say(s) => reporter.emit("say", json!({"text": s}), s.trim_end()),
        ScriptEvent::Report(r) => reporter.emit("report", json!({"text": r}), &r),
        ScriptEvent::Echo(b) => tracing::info!(modem = %String::from_utf8_lossy(&b), "echo"),
    })
    .await;
    if !run.succeeded() {
        reporter.emit(
            "connect-script-failed",
            json!({"script": path, "chat_exit": run.exit_code, "outcome": format!("{:?}", run.outcome)}),
            &format!(
                "connect script {} failed (chat exit status {}: {:?})",
                path.display(),
                run.exit_code,
                run.outcome
            ),
        );
        return Err(exit::CONNECT_SCRIPT);
    }
    // The speed, if the script REPORTed a CONNECT.
    Ok(run
        .reports
        .iter()
        .find_map(|r| r.strip_prefix("CONNECT"))
        .and_then(|rest| Connect::parse_suffix(rest).speed))
}
