//! Serial port enumeration on Linux, from sysfs (the kernel's
//! Documentation/ABI/testing/sysfs-tty and sysfs-bus-usb), without
//! libudev.
//!
//! Every tty in /sys/class/tty that has a `device` link is backed by
//! hardware (virtual consoles, ptmx and PTYs have none). Of those, the
//! 8250 driver registers placeholder ttyS ports for legacy ISA addresses
//! whether or not a UART answers there; their `type` attribute is 0
//! (PORT_UNKNOWN) and we leave them out. Since Linux 6.5 a port's `device`
//! is a "serial-base" device under the real one; we step over it to find
//! the bus (pnp, platform, pci, usb) that carries the UART.
//!
//! Stable names come from udev's /dev/serial/by-id and by-path links, which
//! we read where they exist.
//!
//! On the real machine, [`available_ports`] adds what
//! `serialport::available_ports()` reports: the USB descriptors it reads
//! (vendor, product, serial number, manufacturer, product name) and ports
//! only it lists (Bluetooth rfcomm). The sysfs walk stays ours because
//! serialport reads only the real /sys (no fake tree for tests), lists the
//! 8250 placeholders, knows neither drivers, PCI ids nor udev's links, and
//! panics where /sys/class/tty is missing.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// The bus a port hangs off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortKind {
    /// A USB adapter or modem (ttyUSB via usb-serial, ttyACM via cdc_acm).
    Usb,
    /// A UART on a PCI card (or a PCI modem's UART).
    Pci,
    /// An ACPI/PnP-described UART: a PC's built-in COM port.
    Pnp,
    /// A platform or AMBA device: SoC UARTs (ttyAMA, ttymxc...) and the
    /// legacy 8250 ports that do answer.
    Platform,
    /// Any other bus, by its sysfs subsystem name.
    Other(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsbInfo {
    pub vid: u16,
    pub pid: u16,
    pub manufacturer: Option<String>,
    pub product: Option<String>,
    pub serial_number: Option<String>,
    /// The USB interface the port belongs to (multi-port adapters and
    /// 3G modems expose several).
    pub interface: Option<u8>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciInfo {
    pub vendor: u16,
    pub device: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortInfo {
    /// The kernel's name: ttyS0, ttyUSB0, ttyACM0.
    pub name: String,
    /// The device node: /dev/ttyUSB0.
    pub path: PathBuf,
    pub kind: PortKind,
    /// The kernel driver bound to the port's device (serial, pl2303,
    /// ftdi_sio, cdc_acm, uart-pl011...).
    pub driver: Option<String>,
    pub usb: Option<UsbInfo>,
    pub pci: Option<PciInfo>,
    /// udev's /dev/serial/by-id links to this port: stable across reboots
    /// and replugging, as long as the device has a serial number.
    pub by_id: Vec<PathBuf>,
    /// udev's /dev/serial/by-path links: stable for a given socket.
    pub by_path: Vec<PathBuf>,
}

impl PortInfo {
    /// The best name to put in a profile: a by-id link if there is one,
    /// else the device node.
    pub fn stable_path(&self) -> &Path {
        self.by_id.first().unwrap_or(&self.path)
    }
}

/// Where to look: the real /sys and /dev, or a fake tree in tests.
#[derive(Clone, Debug)]
pub struct Enumerator {
    pub sys: PathBuf,
    pub dev: PathBuf,
}

impl Default for Enumerator {
    fn default() -> Self {
        Enumerator {
            sys: PathBuf::from("/sys"),
            dev: PathBuf::from("/dev"),
        }
    }
}

/// Every serial port on this machine: the sysfs walk, with what
/// serialport's enumeration knows merged in.
pub fn available_ports() -> io::Result<Vec<PortInfo>> {
    let e = Enumerator::default();
    // Read /sys/class/tty first: serialport's scan panics without it.
    let mut ports = e.ports()?;
    match serialport::available_ports() {
        Ok(found) => e.merge(&mut ports, found),
        Err(err) => tracing::debug!(error = %err, "serialport could not enumerate; sysfs only"),
    }
    Ok(ports)
}

/// How far up the device tree we look for USB attributes: port device,
/// interface, device is two steps; hubs do not add levels between them.
const MAX_WALK: usize = 8;

impl Enumerator {
    pub fn ports(&self) -> io::Result<Vec<PortInfo>> {
        let class = self.sys.join("class/tty");
        let by_id = self.links("serial/by-id");
        let by_path = self.links("serial/by-path");
        let mut ports = Vec::new();
        for entry in fs::read_dir(&class)? {
            let Ok(entry) = entry else { continue };
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            match self.port(&class.join(&name), &name, &by_id, &by_path) {
                Some(port) => ports.push(port),
                None => continue,
            }
        }
        ports.sort_by_key(|p| natural_key(&p.name));
        Ok(ports)
    }

    fn port(
        &self,
        class_dir: &Path,
        name: &str,
        by_id: &[(String, PathBuf)],
        by_path: &[(String, PathBuf)],
    ) -> Option<PortInfo> {
        // No device link: a virtual tty (console, ptmx, vcs, pts).
        let mut dev = fs::canonicalize(class_dir.join("device")).ok()?;
        if is_8250_placeholder(class_dir) {
            return None;
        }
        for _ in 0..MAX_WALK {
            if link_name(&dev.join("subsystem")).as_deref() != Some("serial-base") {
                break;
            }
            dev = dev.parent()?.to_path_buf();
        }
        let subsystem = link_name(&dev.join("subsystem"));
        let kind = match subsystem.as_deref() {
            Some("usb") | Some("usb-serial") => PortKind::Usb,
            Some("pci") => PortKind::Pci,
            Some("pnp") => PortKind::Pnp,
            Some("platform") | Some("amba") => PortKind::Platform,
            Some(other) => PortKind::Other(other.to_owned()),
            None => PortKind::Other(String::new()),
        };
        let usb = match kind {
            PortKind::Usb => usb_info(&dev, &self.sys),
            _ => None,
        };
        let pci = match kind {
            PortKind::Pci => read_hex(&dev.join("vendor"))
                .zip(read_hex(&dev.join("device")))
                .map(|(vendor, device)| PciInfo { vendor, device }),
            _ => None,
        };
        let pick = |links: &[(String, PathBuf)]| {
            links
                .iter()
                .filter(|(target, _)| target == name)
                .map(|(_, link)| link.clone())
                .collect::<Vec<_>>()
        };
        Some(PortInfo {
            name: name.to_owned(),
            path: self.dev.join(name),
            kind,
            driver: link_name(&dev.join("driver")),
            usb,
            pci,
            by_id: pick(by_id),
            by_path: pick(by_path),
        })
    }

    /// Folds serialport's findings into the sysfs walk's `ports`. For a
    /// USB port its descriptor strings win where it has them (the
    /// interface number stays ours: the crate reads it only with a feature
    /// we do not build). Of the ports the walk left out, only Bluetooth
    /// ones are added; the rest it left out on purpose (placeholders).
    pub(crate) fn merge(&self, ports: &mut Vec<PortInfo>, found: Vec<serialport::SerialPortInfo>) {
        let mut added = false;
        for info in found {
            let path = PathBuf::from(&info.port_name);
            if let Some(port) = ports.iter_mut().find(|p| p.path == path) {
                if let serialport::SerialPortType::UsbPort(u) = info.port_type {
                    let ours = port.usb.take().unwrap_or_default();
                    port.usb = Some(UsbInfo {
                        vid: u.vid,
                        pid: u.pid,
                        manufacturer: clean(u.manufacturer).or(ours.manufacturer),
                        product: clean(u.product).or(ours.product),
                        serial_number: clean(u.serial_number).or(ours.serial_number),
                        interface: ours.interface,
                    });
                }
                continue;
            }
            if !matches!(info.port_type, serialport::SerialPortType::BluetoothPort) {
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            let pick = |links: Vec<(String, PathBuf)>| {
                links
                    .into_iter()
                    .filter(|(target, _)| *target == name)
                    .map(|(_, link)| link)
                    .collect::<Vec<_>>()
            };
            ports.push(PortInfo {
                by_id: pick(self.links("serial/by-id")),
                by_path: pick(self.links("serial/by-path")),
                name,
                path,
                kind: PortKind::Other("bluetooth".into()),
                driver: None,
                usb: None,
                pci: None,
            });
            added = true;
        }
        if added {
            ports.sort_by_key(|p| natural_key(&p.name));
        }
    }

    /// The links in a /dev/serial subdirectory, with the device name each
    /// points at (udev makes them relative: ../../ttyUSB0).
    fn links(&self, sub: &str) -> Vec<(String, PathBuf)> {
        let dir = self.dev.join(sub);
        let Ok(entries) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut links: Vec<(String, PathBuf)> = entries
            .filter_map(|e| {
                let path = e.ok()?.path();
                let target = fs::read_link(&path).ok()?;
                let name = target.file_name()?.to_str()?.to_owned();
                Some((name, path))
            })
            .collect();
        links.sort();
        links
    }
}

/// A legacy 8250 port with no UART behind it reports type 0 (PORT_UNKNOWN
/// in include/uapi/linux/serial_core.h).
fn is_8250_placeholder(class_dir: &Path) -> bool {
    match fs::read_to_string(class_dir.join("type")) {
        Ok(t) => t.trim().parse::<u32>() == Ok(0),
        Err(_) => false,
    }
}

fn usb_info(dev: &Path, sys: &Path) -> Option<UsbInfo> {
    let mut interface = None;
    let mut dir = dev.to_path_buf();
    for _ in 0..MAX_WALK {
        if interface.is_none() {
            interface = read_hex(&dir.join("bInterfaceNumber")).and_then(|n| u8::try_from(n).ok());
        }
        if dir.join("idVendor").exists() && dir.join("idProduct").exists() {
            return Some(UsbInfo {
                vid: read_hex(&dir.join("idVendor"))?,
                pid: read_hex(&dir.join("idProduct"))?,
                manufacturer: read_attr(&dir.join("manufacturer")),
                product: read_attr(&dir.join("product")),
                serial_number: read_attr(&dir.join("serial")),
                interface,
            });
        }
        match dir.parent() {
            Some(p) if p.starts_with(sys) && p != sys => dir = p.to_path_buf(),
            _ => break,
        }
    }
    None
}

/// The file name a symlink points at (`subsystem`, `driver`).
fn link_name(link: &Path) -> Option<String> {
    let target = fs::read_link(link).ok()?;
    target.file_name()?.to_str().map(str::to_owned)
}

fn read_attr(path: &Path) -> Option<String> {
    let bytes = fs::read(path).ok()?;
    // Descriptor strings come from the device: not to be trusted to be
    // UTF-8 or free of padding.
    clean(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// A descriptor string without padding; None if nothing is left.
fn clean(text: Option<String>) -> Option<String> {
    let text = text?;
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!text.is_empty()).then(|| text.to_owned())
}

/// sysfs prints USB ids as bare hex ("067b") and PCI ids with 0x.
fn read_hex(path: &Path) -> Option<u16> {
    let text = read_attr(path)?;
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(&text);
    u16::from_str_radix(digits, 16).ok()
}

/// ttyS2 before ttyS10.
fn natural_key(name: &str) -> (String, u64) {
    // Counted from the end in ASCII digits (one byte each), so the split
    // is always on a character boundary, whatever the name holds before.
    let digits = name.chars().rev().take_while(char::is_ascii_digit).count();
    let (prefix, digits) = name.split_at(name.len() - digits);
    (prefix.to_owned(), digits.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// Builds a small sysfs/dev tree shaped like a real one (paths as on
    /// a 6.x kernel).
    struct Tree {
        _tmp: tempfile::TempDir,
        root: PathBuf,
    }

    impl Tree {
        fn new() -> Tree {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().to_path_buf();
            for d in [
                "sys/class/tty",
                "sys/bus/pnp/drivers/serial",
                "sys/bus/platform/drivers/serial8250",
                "sys/bus/amba/drivers/uart-pl011",
                "sys/bus/pci/drivers/serial",
                "sys/bus/usb/drivers/cdc_acm",
                "sys/bus/usb-serial/drivers/pl2303",
                "sys/bus/serial-base/drivers/port",
                "dev/serial/by-id",
                "dev/serial/by-path",
            ] {
                fs::create_dir_all(root.join(d)).unwrap();
            }
            Tree { _tmp: tmp, root }
        }

        fn p(&self, rel: &str) -> PathBuf {
            self.root.join(rel)
        }

        fn write(&self, rel: &str, content: &str) {
            let p = self.p(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, content).unwrap();
        }

        /// A directory under sys/ with subsystem and driver links.
        fn device(&self, rel: &str, subsystem: &str, driver: Option<&str>) {
            let d = self.p(rel);
            fs::create_dir_all(&d).unwrap();
            symlink(self.p(&format!("sys/bus/{subsystem}")), d.join("subsystem")).unwrap();
            if let Some(drv) = driver {
                symlink(
                    self.p(&format!("sys/bus/{subsystem}/drivers/{drv}")),
                    d.join("driver"),
                )
                .unwrap();
            }
        }

        /// The tty's own directory under `parent`, its class link and its
        /// device link (relative, as the kernel makes them).
        fn tty(&self, parent: &str, name: &str) -> PathBuf {
            let dir = self.p(&format!("{parent}/tty/{name}"));
            fs::create_dir_all(&dir).unwrap();
            symlink(&dir, self.p(&format!("sys/class/tty/{name}"))).unwrap();
            symlink("../..", dir.join("device")).unwrap();
            dir
        }

        fn virtual_tty(&self, name: &str) {
            let dir = self.p(&format!("sys/devices/virtual/tty/{name}"));
            fs::create_dir_all(&dir).unwrap();
            symlink(&dir, self.p(&format!("sys/class/tty/{name}"))).unwrap();
        }

        fn enumerator(&self) -> Enumerator {
            Enumerator {
                sys: self.p("sys"),
                dev: self.p("dev"),
            }
        }
    }

    fn sample() -> Tree {
        let t = Tree::new();
        // A PC's COM1: pnp device, serial-base layers in between (6.5+).
        t.device("sys/devices/pnp0/00:04", "pnp", Some("serial"));
        t.device("sys/devices/pnp0/00:04/00:04:0", "serial-base", None);
        t.device(
            "sys/devices/pnp0/00:04/00:04:0/00:04:0.0",
            "serial-base",
            Some("port"),
        );
        let s0 = t.tty("sys/devices/pnp0/00:04/00:04:0/00:04:0.0", "ttyS0");
        fs::write(s0.join("type"), "4\n").unwrap();
        // Legacy placeholders: no UART answers.
        t.device(
            "sys/devices/platform/serial8250",
            "platform",
            Some("serial8250"),
        );
        for n in ["ttyS1", "ttyS10", "ttyS2"] {
            let d = t.tty("sys/devices/platform/serial8250", n);
            fs::write(d.join("type"), "0\n").unwrap();
        }
        // A PCI UART card.
        t.device("sys/devices/pci0000:00/0000:00:16.3", "pci", Some("serial"));
        t.write("sys/devices/pci0000:00/0000:00:16.3/vendor", "0x8086\n");
        t.write("sys/devices/pci0000:00/0000:00:16.3/device", "0x1c3d\n");
        let s4 = t.tty("sys/devices/pci0000:00/0000:00:16.3", "ttyS4");
        fs::write(s4.join("type"), "4\n").unwrap();
        // A Prolific USB adapter: usb device, interface, usb-serial port.
        let usbdev = "sys/devices/pci0000:00/0000:00:14.0/usb1/1-2";
        t.device(usbdev, "usb", Some("usb"));
        t.write(&format!("{usbdev}/idVendor"), "067b\n");
        t.write(&format!("{usbdev}/idProduct"), "2303\n");
        t.write(
            &format!("{usbdev}/manufacturer"),
            "Prolific Technology Inc.\n",
        );
        t.write(&format!("{usbdev}/product"), "USB-Serial Controller\n");
        t.device(&format!("{usbdev}/1-2:1.0"), "usb", Some("pl2303"));
        t.write(&format!("{usbdev}/1-2:1.0/bInterfaceNumber"), "00\n");
        t.device(
            &format!("{usbdev}/1-2:1.0/ttyUSB0"),
            "usb-serial",
            Some("pl2303"),
        );
        t.tty(&format!("{usbdev}/1-2:1.0/ttyUSB0"), "ttyUSB0");
        // A CDC-ACM modem on interface 2 of a composite device.
        let acm = "sys/devices/pci0000:00/0000:00:14.0/usb1/1-3";
        t.device(acm, "usb", Some("usb"));
        t.write(&format!("{acm}/idVendor"), "0572\n");
        t.write(&format!("{acm}/idProduct"), "1329\n");
        t.write(&format!("{acm}/manufacturer"), "Conexant\n");
        t.write(&format!("{acm}/product"), "USB Modem\n");
        t.write(&format!("{acm}/serial"), "24680246\n");
        t.device(&format!("{acm}/1-3:1.2"), "usb", Some("cdc_acm"));
        t.write(&format!("{acm}/1-3:1.2/bInterfaceNumber"), "02\n");
        t.tty(&format!("{acm}/1-3:1.2"), "ttyACM0");
        // A Raspberry Pi's PL011.
        t.device(
            "sys/devices/platform/soc/fe201000.serial",
            "amba",
            Some("uart-pl011"),
        );
        t.tty("sys/devices/platform/soc/fe201000.serial", "ttyAMA0");
        // Virtual ttys: none of them is a serial port.
        for n in ["tty0", "tty1", "console", "ptmx"] {
            t.virtual_tty(n);
        }
        // udev's stable names.
        symlink(
            "../../ttyACM0",
            t.p("dev/serial/by-id/usb-Conexant_USB_Modem_24680246-if02"),
        )
        .unwrap();
        symlink(
            "../../ttyUSB0",
            t.p("dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0"),
        )
        .unwrap();
        t
    }

    #[test]
    fn lists_real_ports_only_in_natural_order() {
        let t = sample();
        let ports = t.enumerator().ports().unwrap();
        let names: Vec<_> = ports.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ttyACM0", "ttyAMA0", "ttyS0", "ttyS4", "ttyUSB0"]);
    }

    #[test]
    fn pnp_port_steps_over_serial_base() {
        let t = sample();
        let ports = t.enumerator().ports().unwrap();
        let s0 = ports.iter().find(|p| p.name == "ttyS0").unwrap();
        assert_eq!(s0.kind, PortKind::Pnp);
        assert_eq!(s0.driver.as_deref(), Some("serial"));
        assert_eq!(s0.path, t.p("dev/ttyS0"));
        assert_eq!(s0.usb, None);
        assert!(s0.by_id.is_empty());
        assert_eq!(s0.stable_path(), t.p("dev/ttyS0"));
    }

    #[test]
    fn pci_port_has_ids() {
        let t = sample();
        let ports = t.enumerator().ports().unwrap();
        let s4 = ports.iter().find(|p| p.name == "ttyS4").unwrap();
        assert_eq!(s4.kind, PortKind::Pci);
        assert_eq!(
            s4.pci,
            Some(PciInfo {
                vendor: 0x8086,
                device: 0x1c3d
            })
        );
    }

    #[test]
    fn usb_serial_adapter() {
        let t = sample();
        let ports = t.enumerator().ports().unwrap();
        let u = ports.iter().find(|p| p.name == "ttyUSB0").unwrap();
        assert_eq!(u.kind, PortKind::Usb);
        assert_eq!(u.driver.as_deref(), Some("pl2303"));
        let usb = u.usb.as_ref().unwrap();
        assert_eq!((usb.vid, usb.pid), (0x067b, 0x2303));
        assert_eq!(
            usb.manufacturer.as_deref(),
            Some("Prolific Technology Inc.")
        );
        assert_eq!(usb.product.as_deref(), Some("USB-Serial Controller"));
        assert_eq!(usb.serial_number, None);
        assert_eq!(usb.interface, Some(0));
        assert!(u.by_id.is_empty());
        assert_eq!(
            u.by_path,
            [t.p("dev/serial/by-path/pci-0000:00:14.0-usb-0:2:1.0-port0")]
        );
    }

    #[test]
    fn cdc_acm_modem_with_stable_name() {
        let t = sample();
        let ports = t.enumerator().ports().unwrap();
        let a = ports.iter().find(|p| p.name == "ttyACM0").unwrap();
        assert_eq!(a.kind, PortKind::Usb);
        assert_eq!(a.driver.as_deref(), Some("cdc_acm"));
        let usb = a.usb.as_ref().unwrap();
        assert_eq!((usb.vid, usb.pid), (0x0572, 0x1329));
        assert_eq!(usb.serial_number.as_deref(), Some("24680246"));
        assert_eq!(usb.interface, Some(2));
        let link = t.p("dev/serial/by-id/usb-Conexant_USB_Modem_24680246-if02");
        assert_eq!(a.stable_path(), link);
        assert_eq!(a.by_id, [link]);
    }

    #[test]
    fn soc_uart_is_platform() {
        let t = sample();
        let ports = t.enumerator().ports().unwrap();
        let a = ports.iter().find(|p| p.name == "ttyAMA0").unwrap();
        assert_eq!(a.kind, PortKind::Platform);
        assert_eq!(a.driver.as_deref(), Some("uart-pl011"));
    }

    #[test]
    fn odd_attributes_do_not_break_enumeration() {
        let t = sample();
        // A USB device with garbage ids and binary descriptor strings.
        let d = "sys/devices/pci0000:00/0000:00:14.0/usb1/1-4";
        t.device(d, "usb", Some("usb"));
        t.write(&format!("{d}/idVendor"), "zzzz\n");
        t.write(&format!("{d}/idProduct"), "0001\n");
        t.device(&format!("{d}/1-4:1.0"), "usb", Some("cdc_acm"));
        fs::write(t.p(&format!("{d}/product")), b"\xff\xfe\0\0").unwrap();
        t.tty(&format!("{d}/1-4:1.0"), "ttyACM1");
        // A dangling by-id link and a non-link file.
        symlink("../../ttyGONE", t.p("dev/serial/by-id/usb-gone")).unwrap();
        fs::write(t.p("dev/serial/by-id/not-a-link"), "").unwrap();
        let ports = t.enumerator().ports().unwrap();
        let a = ports.iter().find(|p| p.name == "ttyACM1").unwrap();
        assert_eq!(a.kind, PortKind::Usb);
        assert_eq!(a.usb, None);
    }

    #[test]
    fn missing_sysfs_is_an_error_not_a_panic() {
        let e = Enumerator {
            sys: PathBuf::from("/nonexistent-sys"),
            dev: PathBuf::from("/nonexistent-dev"),
        };
        assert!(e.ports().is_err());
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["ttyS10", "ttyS2", "ttyACM0", "ttyS1"];
        v.sort_by_key(|n| natural_key(n));
        assert_eq!(v, ["ttyACM0", "ttyS1", "ttyS2", "ttyS10"]);
    }

    #[test]
    fn natural_key_survives_non_ascii_names() {
        // A multi-byte character just before the digits used to make the
        // split land inside it and panic.
        assert_eq!(natural_key("ttyé5"), ("ttyé".to_string(), 5));
        assert_eq!(natural_key("ttyé"), ("ttyé".to_string(), u64::MAX));
        assert_eq!(natural_key("42"), (String::new(), 42));
        assert_eq!(natural_key(""), (String::new(), u64::MAX));
    }

    #[test]
    fn serialport_findings_are_merged() {
        use serialport::{SerialPortInfo, SerialPortType, UsbPortInfo};
        let t = sample();
        let e = t.enumerator();
        let mut ports = e.ports().unwrap();
        let dev = |n: &str| t.p(&format!("dev/{n}")).display().to_string();
        symlink("../../rfcomm0", t.p("dev/serial/by-id/bt-headset")).unwrap();
        let found = vec![
            SerialPortInfo {
                port_name: dev("ttyUSB0"),
                port_type: SerialPortType::UsbPort(UsbPortInfo {
                    vid: 0x067b,
                    pid: 0x2303,
                    serial_number: Some("A1B2\0".into()),
                    manufacturer: Some("  ".into()),
                    product: Some("PL2303GT".into()),
                }),
            },
            // A placeholder the walk left out stays out.
            SerialPortInfo {
                port_name: dev("ttyS1"),
                port_type: SerialPortType::Unknown,
            },
            SerialPortInfo {
                port_name: dev("rfcomm0"),
                port_type: SerialPortType::BluetoothPort,
            },
        ];
        e.merge(&mut ports, found);
        let names: Vec<_> = ports.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["rfcomm0", "ttyACM0", "ttyAMA0", "ttyS0", "ttyS4", "ttyUSB0"]
        );
        let bt = &ports[0];
        assert_eq!(bt.kind, PortKind::Other("bluetooth".into()));
        assert_eq!(bt.by_id, [t.p("dev/serial/by-id/bt-headset")]);
        let usb = ports[5].usb.as_ref().unwrap();
        assert_eq!(usb.serial_number.as_deref(), Some("A1B2"));
        assert_eq!(usb.product.as_deref(), Some("PL2303GT"));
        // Blank in the crate's answer: sysfs's stays.
        assert_eq!(
            usb.manufacturer.as_deref(),
            Some("Prolific Technology Inc.")
        );
        assert_eq!(usb.interface, Some(0));
        assert_eq!(ports[5].driver.as_deref(), Some("pl2303"));
    }

    #[test]
    fn this_machine_does_not_panic() {
        // Whatever the host has; only that it reads cleanly.
        let _ = available_ports();
    }
}
