//! Test hosts' plumbing shared by the namespace tests: a checked command,
//! a veth pair between the console and a partition, and an echo service.

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

pub fn veth(console: &Netns, lpar: &Netns, tag: &str, console_addr: &str, lpar_addr: &str) {
    let (a, b) = (
        format!("c{tag}{}", std::process::id() % 100000),
        format!("l{tag}{}", std::process::id() % 100000),
    );
    ok(
        Command::new("ip")
            .args([
                "link",
                "add",
                &a,
                "netns",
                console.name(),
                "type",
                "veth",
                "peer",
                "name",
                &b,
                "netns",
                lpar.name(),
            ])
            .output()
            .unwrap(),
        "veth",
    );
    ok(
        console.run(&[
            "ip",
            "addr",
            "add",
            &format!("{console_addr}/24"),
            "dev",
            &a,
        ]),
        "addr",
    );
    ok(console.run(&["ip", "link", "set", &a, "up"]), "up");
    ok(
        lpar.run(&["ip", "addr", "add", &format!("{lpar_addr}/24"), "dev", &b]),
        "addr",
    );
    ok(lpar.run(&["ip", "link", "set", &b, "up"]), "up");
    ok(
        lpar.run(&["ip", "route", "add", "default", "via", console_addr]),
        "route",
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
