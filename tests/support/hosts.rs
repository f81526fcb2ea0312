//! Test hosts' plumbing shared by the namespace tests: a checked command
//! and an echo service (the hosts themselves: lab.rs).

use std::process::{Command, Output};

use super::carrier::Netns;

pub fn ok(o: Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// An echo service (socat) in a namespace, killed when dropped. socat
/// forks a child per peer, and a UDP child outlives its parent, so the
/// service runs in its own process group and the whole group is killed.
pub struct Service(std::process::Child);

impl Service {
    pub fn start(ns: &Netns, listen: &str) -> Service {
        use std::os::unix::process::CommandExt;
        Service(
            Command::new("ip")
                .args(["netns", "exec", ns.name(), "socat", listen, "EXEC:/bin/cat"])
                .process_group(0)
                .spawn()
                .expect("socat (apt-get install socat)"),
        )
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.0.wait();
    }
}
