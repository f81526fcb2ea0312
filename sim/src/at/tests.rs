use super::*;
use crate::model::{self, MODELS};

fn modem() -> Interpreter {
    Interpreter::new(model::default_model(), None).unwrap()
}

/// Feeds `input` and returns what the DTE would read: echo, information
/// text and result codes; a dial, answer or online request shows as
/// `<DIAL number>`, `<ANSWER>`, `<ONLINE>`, effects as `<HANGUP>` and
/// `<OFFHOOK>`.
fn talk(m: &mut Interpreter, input: &[u8]) -> String {
    let mut out = Vec::new();
    for &b in input {
        let step = m.feed(b);
        if step.echo {
            out.push(b);
        }
        if let Some(done) = step.executed {
            out.extend(&done.text);
            for e in &done.effects {
                out.extend(match e {
                    Effect::Hangup => b"<HANGUP>".as_slice(),
                    Effect::OffHook => b"<OFFHOOK>".as_slice(),
                });
            }
            match done.then {
                Then::Result(code) => out.extend(m.result(code)),
                Then::Dial(d) => out.extend(format!("<DIAL {}>", d.number()).bytes()),
                Then::Answer => out.extend(b"<ANSWER>"),
                Then::Online => out.extend(b"<ONLINE>"),
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Like [`talk`] with echo off, so only the modem's answers show.
fn quiet_talk(m: &mut Interpreter, input: &str) -> String {
    m.active.echo = false;
    talk(m, input.as_bytes())
}

const OK: &str = "\r\nOK\r\n";
const ERROR: &str = "\r\nERROR\r\n";

#[test]
fn bare_at_answers_ok_with_echo() {
    let mut m = modem();
    assert_eq!(talk(&mut m, b"AT\r"), "AT\r\r\nOK\r\n");
}

#[test]
fn lower_case_prefix_works_and_mixed_case_is_ignored() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "at\r"), OK);
    assert_eq!(quiet_talk(&mut m, "ate0v1\r"), OK);
    assert_eq!(quiet_talk(&mut m, "aT\r"), "");
    assert_eq!(quiet_talk(&mut m, "At\r"), "");
    // A stray A before the real prefix does not matter.
    assert_eq!(quiet_talk(&mut m, "AAT\r"), OK);
}

#[test]
fn several_commands_on_one_line() {
    let mut m = modem();
    assert_eq!(talk(&mut m, b"ATE0V1Q0X3\r"), "ATE0V1Q0X3\r\r\nOK\r\n");
    let s = m.settings();
    assert!(!s.echo && s.verbose && !s.quiet && s.x == 3);
    // Spaces between commands are allowed.
    assert_eq!(quiet_talk(&mut m, "AT E1 X 4\r"), OK);
    assert!(m.settings().echo);
    assert_eq!(m.settings().x, 4);
}

#[test]
fn echo_follows_e() {
    let mut m = modem();
    assert_eq!(talk(&mut m, b"ATE0\r"), "ATE0\r\r\nOK\r\n");
    assert_eq!(talk(&mut m, b"AT\r"), OK);
    assert_eq!(talk(&mut m, b"ATE1\r"), OK);
    assert_eq!(talk(&mut m, b"AT\r"), "AT\r\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "ATE2\r"), ERROR);
}

#[test]
fn numeric_results_under_v0() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATV0\r"), "0\r");
    assert_eq!(quiet_talk(&mut m, "ATFOO\r"), "4\r");
    assert_eq!(quiet_talk(&mut m, "ATV1\r"), OK);
    assert_eq!(quiet_talk(&mut m, "ATV2\r"), ERROR);
}

#[test]
fn numeric_info_text_has_no_leading_crlf() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATV0S7?\r"), "050\r\n0\r");
}

#[test]
fn q1_suppresses_results_but_not_information() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATQ1\r"), "");
    assert_eq!(quiet_talk(&mut m, "ATS0?\r"), "\r\n000\r\n");
    assert_eq!(quiet_talk(&mut m, "ATX9\r"), "");
    assert!(m.result(ResultCode::Ring).is_empty());
    assert!(m.result(ResultCode::Connect(Some(33600))).is_empty());
    assert_eq!(quiet_talk(&mut m, "ATQ0\r"), OK);
    assert_eq!(quiet_talk(&mut m, "ATQ2\r"), ERROR);
}

#[test]
fn every_result_code_verbose_and_numeric() {
    let table = [
        (ResultCode::Ok, "OK", 0),
        (ResultCode::Connect(None), "CONNECT", 1),
        (ResultCode::Ring, "RING", 2),
        (ResultCode::NoCarrier, "NO CARRIER", 3),
        (ResultCode::Error, "ERROR", 4),
        (ResultCode::NoDialtone, "NO DIALTONE", 6),
        (ResultCode::Busy, "BUSY", 7),
        (ResultCode::NoAnswer, "NO ANSWER", 8),
        (ResultCode::Connect(Some(1200)), "CONNECT 1200", 5),
        (ResultCode::Connect(Some(2400)), "CONNECT 2400", 10),
        (ResultCode::Connect(Some(9600)), "CONNECT 9600", 12),
        (ResultCode::Connect(Some(33600)), "CONNECT 33600", 60),
        (ResultCode::Connect(Some(56000)), "CONNECT 56000", 1),
    ];
    let mut m = modem();
    for (code, words, number) in table {
        m.active.verbose = true;
        assert_eq!(m.result(code), format!("\r\n{words}\r\n").into_bytes());
        m.active.verbose = false;
        assert_eq!(m.result(code), format!("{number}\r").into_bytes());
    }
}

#[test]
fn x_levels_shape_results() {
    use ResultCode::*;
    let speed = Connect(Some(33600));
    // (level, CONNECT speed, NO DIALTONE, BUSY) as the DTE sees them.
    let table = [
        (0, Connect(None), NoCarrier, NoCarrier),
        (1, speed, NoCarrier, NoCarrier),
        (2, speed, NoDialtone, NoCarrier),
        (3, speed, NoCarrier, Busy),
        (4, speed, NoDialtone, Busy),
    ];
    let mut m = modem();
    for (x, connect, dialtone, busy) in table {
        assert_eq!(quiet_talk(&mut m, &format!("ATX{x}\r")), OK);
        assert_eq!(m.result(speed), m.result_of(connect), "X{x} CONNECT");
        assert_eq!(
            m.result(NoDialtone),
            m.result_of(dialtone),
            "X{x} NO DIALTONE"
        );
        assert_eq!(m.result(Busy), m.result_of(busy), "X{x} BUSY");
        for always in [Ok, Ring, NoCarrier, Error, NoAnswer] {
            assert_eq!(m.result(always), m.result_of(always), "X{x} {always}");
        }
    }
    assert_eq!(quiet_talk(&mut m, "ATX5\r"), ERROR);
}

impl Interpreter {
    /// Formats a code as is, without the X level's say.
    fn result_of(&self, code: ResultCode) -> Vec<u8> {
        let mut me = self.clone();
        me.active.x = 4;
        me.result(code)
    }
}

#[test]
fn x_level_decides_dial_tone_detection() {
    let mut m = modem();
    let plain = Dial::parse(b"T123").unwrap();
    let wait = Dial::parse(b"TW123").unwrap();
    for (x, detects) in [(0, false), (1, false), (2, true), (3, false), (4, true)] {
        m.active.x = x;
        assert_eq!(m.detects_dialtone(&plain), detects, "X{x}");
        assert!(m.detects_dialtone(&wait), "X{x} with W");
    }
}

#[test]
fn s_registers_set_and_query() {
    let mut m = modem();
    for (n, v) in [
        (0, 2),
        (1, 0),
        (2, 43),
        (3, 13),
        (4, 10),
        (5, 8),
        (6, 4),
        (7, 30),
        (8, 1),
        (9, 6),
        (10, 20),
        (11, 70),
        (12, 25),
        (25, 5),
        (30, 0),
    ] {
        assert_eq!(quiet_talk(&mut m, &format!("ATS{n}={v}\r")), OK, "S{n}={v}");
        assert_eq!(
            quiet_talk(&mut m, &format!("ATS{n}?\r")),
            format!("\r\n{v:03}\r\n\r\nOK\r\n"),
            "S{n}?"
        );
    }
    assert_eq!(m.settings().s.rings_to_answer(), 2);
    assert_eq!(m.settings().s.carrier_wait_s(), 30);
    assert_eq!(m.settings().s.guard_time(), 25);
}

#[test]
fn s_register_errors() {
    let mut m = modem();
    for bad in [
        "ATS7=0\r",
        "ATS7=256\r",
        "ATS0=99999999999\r",
        "ATS3=128\r",
        "ATS6=1\r",
        "ATS11=10\r",
        "ATS99=1\r",
        "ATS99?\r",
        "ATS\r",
        "ATS=3\r",
    ] {
        assert_eq!(quiet_talk(&mut m, bad), ERROR, "{bad:?}");
    }
    assert_eq!(m.settings().s.carrier_wait_s(), 50);
}

#[test]
fn legacy_register_selection() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATS7\r"), OK);
    assert_eq!(quiet_talk(&mut m, "AT=40\r"), OK);
    assert_eq!(quiet_talk(&mut m, "AT?\r"), "\r\n040\r\n\r\nOK\r\n");
    assert_eq!(
        quiet_talk(&mut m, "ATS0=1S7=20S0?S7?\r"),
        "\r\n001\r\n\r\n020\r\n\r\nOK\r\n"
    );
}

#[test]
fn s3_and_s4_change_line_end_and_framing() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATS3=64\r"), "@\nOK@\n");
    assert_eq!(quiet_talk(&mut m, "AT\r"), "");
    assert_eq!(quiet_talk(&mut m, "@"), "@\nOK@\n");
    assert_eq!(quiet_talk(&mut m, "ATS4=33@"), "@!OK@!");
    assert_eq!(quiet_talk(&mut m, "ATS3=13S4=10@"), OK);
}

#[test]
fn s5_edits_the_line() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATX5\x083\r"), OK);
    assert_eq!(m.settings().x, 3);
    // Backspace cannot eat the AT.
    assert_eq!(quiet_talk(&mut m, "AT\x08\x08\x08\r"), OK);
    // Another editing character.
    assert_eq!(quiet_talk(&mut m, "ATS5=127\r"), OK);
    assert_eq!(quiet_talk(&mut m, "ATX9\x7f4\r"), OK);
    assert_eq!(m.settings().x, 4);
}

#[test]
fn a_slash_repeats_the_last_line() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATS0?\r"), "\r\n000\r\n\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "A/"), "\r\n000\r\n\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "ATDT5551234\r"), "<DIAL 5551234>");
    assert_eq!(quiet_talk(&mut m, "a/"), "<DIAL 5551234>");
    // An overlong line is not remembered.
    let long = format!("AT{}\r", "E1".repeat(40));
    assert_eq!(quiet_talk(&mut m, &long), ERROR);
    assert_eq!(quiet_talk(&mut m, "A/"), "<DIAL 5551234>");
}

#[test]
fn a_slash_echoes() {
    let mut m = modem();
    assert_eq!(talk(&mut m, b"AT\r"), "AT\r\r\nOK\r\n");
    assert_eq!(talk(&mut m, b"A/"), "A/\r\nOK\r\n");
}

#[test]
fn z_recalls_the_stored_profile_and_hangs_up() {
    let mut m = Interpreter::new(model::default_model(), Some("S0=2 &D0")).unwrap();
    assert_eq!(m.settings().s.rings_to_answer(), 2);
    assert_eq!(m.settings().dtr_mode, 0);
    assert_eq!(quiet_talk(&mut m, "ATS0=0X1V0\r"), "0\r");
    assert_eq!(quiet_talk(&mut m, "ATZ\r"), "<HANGUP>\r\nOK\r\n");
    assert_eq!(m.settings().s.rings_to_answer(), 2);
    assert_eq!(m.settings().x, 4);
    assert_eq!(quiet_talk(&mut m, "ATZ1\r"), "<HANGUP>\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "ATZ2\r"), ERROR);
}

#[test]
fn and_f_loads_factory_settings_and_and_w_stores() {
    let mut m = Interpreter::new(&model::USR_COURIER, Some("S0=2")).unwrap();
    assert_eq!(
        m.settings().s.carrier_wait_s(),
        60,
        "the Courier waits 60 s"
    );
    assert_eq!(quiet_talk(&mut m, "AT&F\r"), OK);
    assert_eq!(m.settings().s.rings_to_answer(), 0);
    assert_eq!(m.settings().s.carrier_wait_s(), 60);
    assert_eq!(quiet_talk(&mut m, "ATS0=3&W\r"), OK);
    assert_eq!(quiet_talk(&mut m, "ATS0=0Z\r"), "<HANGUP>\r\nOK\r\n");
    assert_eq!(m.settings().s.rings_to_answer(), 3);
    assert_eq!(quiet_talk(&mut m, "AT&F1\r"), ERROR);
}

#[test]
fn and_v_shows_both_profiles() {
    let mut m = modem();
    let out = quiet_talk(&mut m, "AT&V\r");
    assert!(out.starts_with("\r\nACTIVE PROFILE:\r\nE0 L1 M1 Q0 V1 X4 &C1 &D2 &K3\r\nS00:000"));
    assert!(out.contains("STORED PROFILE 0:\r\nE1 "));
    assert!(out.contains("S07:050"));
    assert!(out.ends_with("S30:000\r\n\r\nOK\r\n"));
}

#[test]
fn and_c_d_k_take_their_ranges() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "AT&C0&D0&K0\r"), OK);
    assert_eq!(
        (
            m.settings().dcd_mode,
            m.settings().dtr_mode,
            m.settings().flow
        ),
        (0, 0, 0)
    );
    assert_eq!(quiet_talk(&mut m, "AT&C1&D3&K4\r"), OK);
    assert_eq!(
        (
            m.settings().dcd_mode,
            m.settings().dtr_mode,
            m.settings().flow
        ),
        (1, 3, 4)
    );
    assert_eq!(quiet_talk(&mut m, "AT&D1\r"), OK);
    assert_eq!(quiet_talk(&mut m, "AT&D2\r"), OK);
    for bad in ["AT&C2\r", "AT&D4\r", "AT&K7\r", "AT&Q5\r", "AT&\r"] {
        assert_eq!(quiet_talk(&mut m, bad), ERROR, "{bad:?}");
    }
}

#[test]
fn dial_commands() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATDT555-0100\r"), "<DIAL 5550100>");
    assert_eq!(quiet_talk(&mut m, "ATDP 555 0100\r"), "<DIAL 5550100>");
    assert_eq!(quiet_talk(&mut m, "ATD9,W555@\r"), "<DIAL 9555>");
    assert_eq!(quiet_talk(&mut m, "atdt5550100\r"), "<DIAL 5550100>");
    assert_eq!(quiet_talk(&mut m, "ATDL\r"), "<DIAL 5550100>");
    assert_eq!(quiet_talk(&mut m, "ATDS=1\r"), ERROR);
    // Commands before D run; D takes the rest of the line.
    assert_eq!(quiet_talk(&mut m, "ATX3DT123\r"), "<DIAL 123>");
    assert_eq!(m.settings().x, 3);
    let mut semi = None;
    for b in b"ATDT123;\r" {
        if let Some(done) = m.feed(*b).executed {
            semi = Some(done.then);
        }
    }
    match semi {
        Some(Then::Dial(d)) => assert!(d.stay_in_command),
        other => panic!("{other:?}"),
    }
}

#[test]
fn answer_hook_and_online() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATA\r"), "<ANSWER>");
    assert_eq!(quiet_talk(&mut m, "ATH\r"), "<HANGUP>\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "ATH0\r"), "<HANGUP>\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "ATH1\r"), "<OFFHOOK>\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "ATH2\r"), ERROR);
    assert_eq!(quiet_talk(&mut m, "ATO\r"), "<ONLINE>");
    assert_eq!(quiet_talk(&mut m, "ATO1\r"), "<ONLINE>");
    assert_eq!(quiet_talk(&mut m, "ATO2\r"), ERROR);
}

#[test]
fn identity_of_every_model() {
    for model in MODELS {
        let mut m = Interpreter::new(model, None).unwrap();
        for n in 0..10 {
            let out = quiet_talk(&mut m, &format!("ATI{n}\r"));
            let info = model.info[n];
            if info.is_empty() {
                assert_eq!(out, OK, "{} I{n}", model.id);
            } else {
                let first = info.lines().next().unwrap();
                assert!(
                    out.starts_with(&format!("\r\n{first}")),
                    "{} I{n}: {out:?}",
                    model.id
                );
                assert!(out.ends_with("\r\n\r\nOK\r\n"));
            }
        }
        assert_eq!(quiet_talk(&mut m, "ATI10\r"), ERROR);
        assert_eq!(quiet_talk(&mut m, "ATI\r"), quiet_talk(&mut m, "ATI0\r"));
        for (cmd, text) in [
            ("+GMI", model.gmi),
            ("+GMM", model.gmm),
            ("+GMR", model.gmr),
            ("+GCAP", model.gcap),
        ] {
            assert_eq!(
                quiet_talk(&mut m, &format!("AT{cmd}\r")),
                format!("\r\n{text}\r\n\r\nOK\r\n")
            );
            assert_eq!(quiet_talk(&mut m, &format!("AT{cmd}=?\r")), OK);
            assert_eq!(quiet_talk(&mut m, &format!("AT{cmd}?\r")), ERROR);
        }
    }
}

#[test]
fn models_differ_where_detection_looks() {
    let gmms: std::collections::HashSet<_> = MODELS.iter().map(|m| m.gmm).collect();
    assert_eq!(gmms.len(), MODELS.len());
    let i3: std::collections::HashSet<_> = MODELS.iter().map(|m| m.info[3]).collect();
    assert_eq!(i3.len(), MODELS.len());
    assert_eq!(model::by_id("USR-Courier").unwrap().speed, 33600);
    assert!(model::by_id("nope").is_none());
}

#[test]
fn extended_commands_chain_with_semicolons() {
    let mut m = modem();
    let out = quiet_talk(&mut m, "AT+GMI;+GMM\r");
    assert_eq!(
        out,
        format!(
            "\r\n{}\r\n\r\n{}\r\n\r\nOK\r\n",
            model::default_model().gmi,
            model::default_model().gmm
        )
    );
    assert_eq!(quiet_talk(&mut m, "AT+FCLASS=0\r"), OK);
    assert_eq!(quiet_talk(&mut m, "AT+FCLASS?\r"), "\r\n0\r\n\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "AT+FCLASS=1\r"), ERROR);
    assert_eq!(quiet_talk(&mut m, "AT+CGMI\r"), ERROR);
    assert_eq!(quiet_talk(&mut m, "AT+\r"), ERROR);
}

#[test]
fn caller_id_is_off_by_default_and_vcid_switches_it() {
    let mut m = modem();
    assert!(!m.settings().caller_id);
    assert_eq!(quiet_talk(&mut m, "AT+VCID?\r"), "\r\n0\r\n\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "AT+VCID=?\r"), "\r\n(0,1)\r\n\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "AT+VCID=1\r"), OK);
    assert!(m.settings().caller_id);
    assert_eq!(quiet_talk(&mut m, "AT+VCID?\r"), "\r\n1\r\n\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "AT+VCID=0\r"), OK);
    assert!(!m.settings().caller_id);
    // Unformatted presentation (2) is not simulated; nor is any other value.
    for bad in ["AT+VCID=2\r", "AT+VCID=\r", "AT+VCID\r", "AT+VCID=11\r"] {
        assert_eq!(quiet_talk(&mut m, bad), ERROR, "{bad:?}");
        assert!(!m.settings().caller_id, "{bad:?}");
    }
    // Chained with other commands, in either syntax.
    assert_eq!(quiet_talk(&mut m, "ATS0=0+VCID=1;+FCLASS=0\r"), OK);
    assert!(m.settings().caller_id);
}

#[test]
fn rockwell_cid_is_the_same_setting() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "AT#CID=1\r"), OK);
    assert!(m.settings().caller_id);
    assert_eq!(quiet_talk(&mut m, "AT+VCID?\r"), "\r\n1\r\n\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "AT#CID?\r"), "\r\n1\r\n\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "AT#CID=?\r"), "\r\n0,1\r\n\r\nOK\r\n");
    assert_eq!(quiet_talk(&mut m, "AT#CID=0S0=1\r"), OK);
    assert!(!m.settings().caller_id);
    assert_eq!(m.settings().s.rings_to_answer(), 1);
    for bad in ["AT#CID=2\r", "AT#CID\r", "AT#FOO=1\r", "AT#\r"] {
        assert_eq!(quiet_talk(&mut m, bad), ERROR, "{bad:?}");
    }
}

#[test]
fn z_and_and_f_turn_caller_id_off_unless_it_was_stored() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "AT+VCID=1\r"), OK);
    assert_eq!(quiet_talk(&mut m, "ATZ\r"), "<HANGUP>\r\nOK\r\n");
    assert!(!m.settings().caller_id, "ATZ recalls the stored profile");
    assert_eq!(quiet_talk(&mut m, "AT+VCID=1\r"), OK);
    assert_eq!(quiet_talk(&mut m, "AT&F\r"), OK);
    assert!(!m.settings().caller_id, "AT&F: factory settings");
    // Stored by &W (IS-101), and so recalled by Z; a basic command
    // follows an extended one only after a semicolon (V.250).
    assert_eq!(quiet_talk(&mut m, "AT+VCID=1&W\r"), ERROR);
    assert_eq!(quiet_talk(&mut m, "AT+VCID=1;&W\r"), OK);
    assert_eq!(quiet_talk(&mut m, "ATZ\r"), "<HANGUP>\r\nOK\r\n");
    assert!(m.settings().caller_id);
    // A profile may turn it on.
    let m = Interpreter::new(model::default_model(), Some("+VCID=1")).unwrap();
    assert!(m.settings().caller_id);
}

#[test]
fn models_without_a_caller_id_decoder_refuse_it() {
    let mut courier = Interpreter::new(&model::USR_COURIER, None).unwrap();
    assert_eq!(quiet_talk(&mut courier, "AT+VCID=1\r"), ERROR);
    assert_eq!(quiet_talk(&mut courier, "AT#CID=1\r"), ERROR);
    assert!(!courier.settings().caller_id);
    // The USR5637 knows IS-101's +VCID only.
    let mut usr = Interpreter::new(&model::USR_5637, None).unwrap();
    assert_eq!(quiet_talk(&mut usr, "AT#CID=1\r"), ERROR);
    assert_eq!(quiet_talk(&mut usr, "AT+VCID=1\r"), OK);
    assert!(usr.settings().caller_id);
}

#[test]
fn speaker_and_dial_method_are_accepted() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATL3M0TP\r"), OK);
    assert_eq!(quiet_talk(&mut m, "ATL4\r"), ERROR);
    assert_eq!(quiet_talk(&mut m, "ATM4\r"), ERROR);
}

#[test]
fn unknown_commands_fail_after_running_the_ones_before() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATV0K1\r"), "4\r");
    assert!(!m.settings().verbose);
    assert_eq!(quiet_talk(&mut m, "ATV1\r"), OK);
    for bad in ["ATJ\r", "ATE0#\r", "AT$\r", "AT\\N3\r", "ATY\r"] {
        assert_eq!(quiet_talk(&mut m, bad), ERROR, "{bad:?}");
    }
    assert_eq!(quiet_talk(&mut m, "AT\r"), OK);
}

#[test]
fn overlong_lines_are_refused_but_the_limit_itself_is_fine() {
    let mut m = modem();
    let max = model::default_model().max_line;
    let fits = format!("AT{}\r", "E1".repeat(max / 2));
    assert_eq!(quiet_talk(&mut m, &fits), OK);
    let too_long = format!("AT{}E1\r", "E1".repeat(max / 2));
    assert_eq!(quiet_talk(&mut m, &too_long), ERROR);
    // Spaces do not count.
    let spaced = format!("AT{}\r", "E1 ".repeat(max / 2));
    assert_eq!(quiet_talk(&mut m, &spaced), OK);
    let huge = format!("AT{}\r", "X".repeat(10_000));
    assert_eq!(quiet_talk(&mut m, &huge), ERROR);
    assert_eq!(quiet_talk(&mut m, "AT\r"), OK);
}

#[test]
fn binary_garbage_never_wedges_the_interpreter() {
    let mut m = modem();
    // Garbage outside a line is ignored, whatever it contains.
    let noise: Vec<u8> = (0u8..=255)
        .rev()
        .cycle()
        .take(5000)
        .filter(|b| *b != b'A' && *b != b'a')
        .collect();
    m.active.echo = false;
    assert_eq!(talk(&mut m, &noise), "");
    assert_eq!(quiet_talk(&mut m, "AT\r"), OK);
    // Garbage inside a line is an ERROR at its end.
    let mut line = b"AT".to_vec();
    line.extend([0xff, 0x80, 0x01, b'Z', 0xc3]);
    line.push(b'\r');
    assert_eq!(talk(&mut m, &line), ERROR);
    assert_eq!(quiet_talk(&mut m, "AT\r"), OK);
    // Every byte value after AT, one at a time: never a panic, always an
    // answer or nothing, and AT works afterwards.
    for b in 0u8..=255 {
        talk(&mut m, &[b'A', b'T', b, b'\r']);
        m.active = Settings {
            echo: false,
            ..Settings::default()
        };
        assert_eq!(quiet_talk(&mut m, "AT\r"), OK, "after byte {b}");
    }
}

#[test]
fn profiles_must_be_plain_settings() {
    let model = model::default_model();
    assert!(Interpreter::new(model, Some("ATS0=1 E0")).is_ok());
    assert!(Interpreter::new(model, Some("at&d0")).is_ok());
    assert!(Interpreter::new(model, Some("DT123")).is_err());
    assert!(Interpreter::new(model, Some("S7=0")).is_err());
    assert!(Interpreter::new(model, Some("H1")).is_err());
    let e = Interpreter::new(model, Some("Q9")).unwrap_err();
    assert!(e.to_string().contains("Q9"));
}

#[test]
fn ring_count_is_the_modems_to_set() {
    let mut m = modem();
    m.set_ring_count(2);
    assert_eq!(quiet_talk(&mut m, "ATS1?\r"), "\r\n002\r\n\r\nOK\r\n");
}

#[test]
fn a_reset_drops_a_half_typed_line() {
    let mut m = modem();
    assert_eq!(quiet_talk(&mut m, "ATS0=1"), "");
    m.clear_line();
    assert_eq!(quiet_talk(&mut m, "\r"), "");
    m.reset();
    assert_eq!(talk(&mut m, b"AT\r"), "AT\r\r\nOK\r\n");
}
