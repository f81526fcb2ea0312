//! The field types that are more than a string or a number: flow
//! control, phone numbers, the password, the async map; and how they are
//! read and written.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::ppp::auth::Secret;

/// Flow control on the serial line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flow {
    /// Hardware: RTS/CTS (pppd's `crtscts`).
    #[serde(rename = "rtscts")]
    RtsCts,
    /// Software: XON/XOFF (pppd's `xonxoff`).
    #[serde(rename = "xonxoff")]
    XonXoff,
    /// None (pppd's `nocrtscts`).
    #[serde(rename = "none")]
    Off,
}

impl From<Flow> for carrier_hw::Flow {
    fn from(f: Flow) -> Self {
        match f {
            Flow::RtsCts => carrier_hw::Flow::RtsCts,
            Flow::XonXoff => carrier_hw::Flow::XonXoff,
            Flow::Off => carrier_hw::Flow::None,
        }
    }
}

/// A number to dial, with an optional label for messages ("Chicago").
/// In a file: `"5551234"` or `{ number = "5551234", label = "Chicago" }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber {
    pub number: String,
    pub label: Option<String>,
}

impl PhoneNumber {
    pub fn new(number: impl Into<String>) -> PhoneNumber {
        PhoneNumber {
            number: number.into(),
            label: None,
        }
    }
}

impl From<&PhoneNumber> for crate::modem::dial::Number {
    fn from(n: &PhoneNumber) -> Self {
        crate::modem::dial::Number {
            number: n.number.clone(),
            label: n.label.clone(),
        }
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.label {
            Some(l) => write!(f, "{} ({l})", self.number),
            None => f.write_str(&self.number),
        }
    }
}

impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Labeled {
            number: String,
            label: Option<String>,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = PhoneNumber;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a number as a string, or a table { number = \"...\", label = \"...\" }",
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<PhoneNumber, E> {
                Ok(PhoneNumber::new(s))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PhoneNumber, A::Error> {
                let l = Labeled::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(PhoneNumber {
                    number: l.number,
                    label: l.label,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.label {
            None => s.serialize_str(&self.number),
            Some(label) => {
                let mut t = s.serialize_struct("PhoneNumber", 2)?;
                t.serialize_field("number", &self.number)?;
                t.serialize_field("label", label)?;
                t.end()
            }
        }
    }
}

/// A password from a profile: prints as `<hidden>`, and is never
/// serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Secret);

impl Password {
    pub fn new(p: impl Into<Vec<u8>>) -> Password {
        Password(Secret::new(p))
    }

    pub fn secret(&self) -> &Secret {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Password;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Password, E> {
                Ok(Password::new(s.as_bytes()))
            }
            // The default messages would quote the value: a password
            // given as a number must not end up in an error line.
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Password, E> {
                Err(E::custom("must be a string (in quotes)"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Password, E> {
                Err(E::custom("must be a string (in quotes)"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Password, E> {
                Err(E::custom("must be a string (in quotes)"))
            }
        }
        d.deserialize_str(V)
    }
}

/// pppd's `asyncmap`: the control characters the peer must escape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsyncMap(pub u32);

impl<'de> Deserialize<'de> for AsyncMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AsyncMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 32-bit map as a hex string (\"000a0000\") or an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<AsyncMap, E> {
                u32::try_from(v)
                    .map(AsyncMap)
                    .map_err(|_| E::custom(format!("{v} does not fit in 32 bits")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<AsyncMap, E> {
                u32::try_from(v)
                    .map(AsyncMap)
                    .map_err(|_| E::custom(format!("{v} does not fit in 32 bits")))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<AsyncMap, E> {
                let t = s
                    .strip_prefix("0x")
                    .or_else(|| s.strip_prefix("0X"))
                    .unwrap_or(s);
                if t.is_empty() || t.len() > 8 {
                    return Err(E::custom(format!("{s:?} is not a 32-bit hex number")));
                }
                u32::from_str_radix(t, 16)
                    .map(AsyncMap)
                    .map_err(|_| E::custom(format!("{s:?} is not a 32-bit hex number")))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for AsyncMap {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:08x}", self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::tests::{error, parse};

    #[test]
    fn asyncmap_as_integer_or_hex() {
        assert_eq!(parse("asyncmap = 0").unwrap().asyncmap, Some(AsyncMap(0)));
        assert_eq!(
            parse("asyncmap = \"0xFFFFFFFF\"").unwrap().asyncmap,
            Some(AsyncMap(u32::MAX))
        );
        assert_eq!(
            error("\nasyncmap = \"0x1g\""),
            "/etc/carrier/t.toml:2: asyncmap: \"0x1g\" is not a 32-bit hex number"
        );
        assert_eq!(
            error("asyncmap = 4294967296"),
            "/etc/carrier/t.toml:1: asyncmap: 4294967296 does not fit in 32 bits"
        );
    }

    #[test]
    fn both_number_forms() {
        let p = parse(
            "[[numbers]]\nnumber = \"5551234\"\nlabel = \"Chicago\"\n\n[[numbers]]\nnumber = \"5550000\"\n",
        )
        .unwrap();
        assert_eq!(
            p.numbers,
            [
                PhoneNumber {
                    number: "5551234".into(),
                    label: Some("Chicago".into())
                },
                PhoneNumber::new("5550000")
            ]
        );
        let p = parse("numbers = [\"1\", { number = \"2\" }, { number = \"3\", label = \"x\" }]")
            .unwrap();
        assert_eq!(p.numbers[0], PhoneNumber::new("1"));
        assert_eq!(p.numbers[1], PhoneNumber::new("2"));
        assert_eq!(p.numbers[2].label.as_deref(), Some("x"));
        assert_eq!(p.numbers[2].to_string(), "3 (x)");
        let n = crate::modem::dial::Number::from(&p.numbers[2]);
        assert_eq!((n.number.as_str(), n.label.as_deref()), ("3", Some("x")));
    }

    #[test]
    fn the_password_never_prints() {
        let p = parse("user = \"u\"\npassword = \"hunter2\"").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
        assert!(!p.to_toml().contains("hunter2"));
        assert_eq!(p.load_password().unwrap().unwrap().expose(), b"hunter2");
    }
}

/// The profile's `ipv6`: `true`/`false`, or pppd's `"LOCAL,REMOTE"`
/// identifiers (which switch IPv6CP on, as in pppd).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ipv6Setting {
    On(bool),
    Identifiers(String),
}

impl Ipv6Setting {
    /// What `--ipv6` would say: None for off, "" for on with random
    /// identifiers.
    pub fn spec(&self) -> Option<&str> {
        match self {
            Ipv6Setting::On(true) => Some(""),
            Ipv6Setting::On(false) => None,
            Ipv6Setting::Identifiers(s) => Some(s),
        }
    }
}
