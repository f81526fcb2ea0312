//! What a child process needs set between fork and exec, which std's
//! `Command` cannot express without `pre_exec`.

use std::os::unix::process::CommandExt;
use std::process::Command;

/// The child runs under `umask 077` (pppd's scripts do), without touching
/// the parent's umask, which other threads rely on while they create
/// files.
pub fn private_umask(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only
    // calls umask(2), which is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
            Ok(())
        });
    }
}

/// The child starts a session of its own (setsid(2)), as pppd's
/// `run_program` does for its scripts: no controlling terminal, so a
/// script cannot read or write carrier's terminal nor get its job-control
/// signals; and a process group of its own (its id is the child's pid),
/// so the whole group can be signalled. Not to be combined with
/// `process_group`: a group leader cannot start a session.
pub fn own_session(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only
    // calls setsid(2), which is async-signal-safe and allocates nothing.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()?;
            Ok(())
        });
    }
}
