//! The shape of the code, checked: the modules of the library and of
//! carrier-hw import each other without a circle, the protocol core
//! (`hdlc`, `line`, `ppp::*`, `wire::*`, `l2tp::*`) imports nothing outside itself, so
//! it stays the part that tests and fuzzers drive with no I/O behind it,
//! and no module of the library imports one of a higher layer (see
//! `LAYERS`).
//!
//! A module is a file; an edge is any `crate::…`, `super::…` or
//! `self::…` path in its code that names another module (the longest
//! module prefix of the path). A module's edges to its own ancestors and
//! descendants are left out: a `mod.rs` re-exporting its children and a
//! child using its parent's items are how Rust modules are built.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// `a::b` for `<root>/a/b.rs` or `<root>/a/b/mod.rs`; `crate` for the root.
fn module_of(root: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    if parts.is_empty() {
        "crate".into()
    } else {
        parts.join("::")
    }
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without its comments and string literals, near
/// enough for finding paths.
fn code(text: &str) -> String {
    // A file's unit tests (its last item, by this project's habit) may
    // reach anywhere: they are not part of the module's shape.
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '"' => {
                let mut escaped = false;
                for c in chars.by_ref() {
                    if !escaped && c == '"' {
                        break;
                    }
                    escaped = !escaped && c == '\\';
                }
                out.push_str("\"\"");
            }
            _ => out.push(c),
        }
    }
    out
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that starts at `start` in `code`, with `use` groups
/// (`{a, b::c}`) expanded one level: each as its segments after `start`.
fn paths_after(code: &str, start: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(i) = code[from..].find(start) {
        let at = from + i;
        from = at + start.len();
        if at > 0 && (ident_char(bytes[at - 1] as char) || bytes[at - 1] == b':') {
            continue;
        }
        let rest = &code[from..];
        let mut segs = Vec::new();
        let mut r = rest;
        loop {
            let n = r.find(|c: char| !ident_char(c)).unwrap_or(r.len());
            if n == 0 {
                break;
            }
            segs.push(r[..n].to_string());
            r = &r[n..];
            if let Some(next) = r.strip_prefix("::") {
                r = next;
            } else {
                break;
            }
        }
        if let Some(group) = r.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let item: Vec<String> = item
                    .trim()
                    .split("::")
                    .map(|s| s.trim().to_string())
                    .take_while(|s| !s.is_empty() && s.chars().all(ident_char))
                    .collect();
                let mut p = segs.clone();
                p.extend(item);
                out.push(p);
            }
        } else {
            out.push(segs);
        }
    }
    out
}

/// The module graph of the crate whose root is `root` (its `src/`).
fn graph(root: &Path, skip: &[&str]) -> Graph {
    let mut fs = Vec::new();
    files(root, &mut fs);
    let mods: BTreeMap<String, String> = fs
        .iter()
        .map(|f| (module_of(root, f), std::fs::read_to_string(f).unwrap()))
        .filter(|(m, _)| {
            !skip
                .iter()
                .any(|s| m == s || m.starts_with(&format!("{s}::")))
        })
        .collect();
    let known: BTreeSet<&str> = mods.keys().map(String::as_str).collect();
    let mut g = Graph::new();
    for (m, text) in &mods {
        let code = code(text);
        let parent: Vec<&str> = if m == "crate" {
            Vec::new()
        } else {
            let mut p: Vec<&str> = m.split("::").collect();
            p.pop();
            p
        };
        let own: Vec<&str> = if m == "crate" {
            Vec::new()
        } else {
            m.split("::").collect()
        };
        let mut targets = Vec::new();
        for p in paths_after(&code, "crate::") {
            targets.push(p);
        }
        for p in paths_after(&code, "super::") {
            let mut base: Vec<String> = parent.iter().map(|s| s.to_string()).collect();
            let mut p = p;
            // super::super::x
            while p.first().is_some_and(|s| s == "super") {
                p.remove(0);
                base.pop();
            }
            base.extend(p);
            targets.push(base);
        }
        for p in paths_after(&code, "self::") {
            let mut base: Vec<String> = own.iter().map(|s| s.to_string()).collect();
            base.extend(p);
            targets.push(base);
        }
        let edges = g.entry(m.clone()).or_default();
        for t in targets {
            // The longest prefix that is a module.
            let Some(target) = (1..=t.len())
                .rev()
                .map(|n| t[..n].join("::"))
                .find(|c| known.contains(c.as_str()))
            else {
                continue;
            };
            let related = target == *m
                || m.starts_with(&format!("{target}::"))
                || target.starts_with(&format!("{m}::"));
            if !related {
                edges.insert(target);
            }
        }
    }
    g
}

/// Every circle of the graph, each once, as the modules on it.
fn circles(g: &Graph) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components.
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        t.index.insert(v, t.next);
        t.low.insert(v, t.next);
        t.next += 1;
        t.stack.push(v);
        t.on.insert(v);
        let g = t.g;
        for w in g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.on.contains(w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            while let Some(w) = t.stack.pop() {
                t.on.remove(w);
                c.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                c.sort();
                t.out.push(c);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

fn edge_count(g: &Graph) -> usize {
    g.values().map(BTreeSet::len).sum()
}

#[test]
fn the_library_has_no_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    // The binary's own modules are not the library's.
    let g = graph(&root, &["main", "cmd", "bin"]);
    let c = circles(&g);
    eprintln!(
        "library: {} modules, {} edges, {} circles",
        g.len(),
        edge_count(&g),
        c.len()
    );
    assert!(
        g.len() > 50 && edge_count(&g) > 100,
        "the parser found too little: {g:?}"
    );
    assert!(c.is_empty(), "import circles in the library: {c:?}");
}

#[test]
fn the_protocol_core_imports_nothing_outside_itself() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&root, &["main", "cmd", "bin"]);
    let core = |m: &str| {
        ["hdlc", "l2tp", "line", "ppp", "wire"]
            .iter()
            .any(|c| m == *c || m.starts_with(&format!("{c}::")))
    };
    let out: Vec<String> = g
        .iter()
        .filter(|(m, _)| core(m))
        .flat_map(|(m, to)| {
            to.iter()
                .filter(|t| !core(t))
                .map(move |t| format!("{m} -> {t}"))
        })
        .collect();
    assert!(out.is_empty(), "the core reaches out: {out:?}");
}

/// The library's top-level modules, bottom layer first. A module may
/// import its own layer and the layers below, never one above: the core
/// knows nothing of services, services nothing of a call, a call nothing
/// of who placed or answered it. The order is the one today's imports
/// already follow, so a new arrow upward is a choice to make in review,
/// not an accident.
const LAYERS: &[(&str, &[&str])] = &[
    // Sans-IO: frames, the PPP machines, headers, one line joining them,
    // L2TP's wire format.
    ("core", &["hdlc", "ppp", "wire", "line", "l2tp"]),
    // One job each, on top of the core: modem commands, the IP plane,
    // captures, secrets, events, exit codes, redial policy, deadlines
    // that cannot overflow.
    (
        "services",
        &[
            "deadline", "events", "exit", "modem", "net", "pcap", "redial", "secrets",
        ],
    ),
    // One call carried: a port held, the PPP session over it, and what
    // plugs into a session (scripts, dial on demand).
    ("call", &["port", "session", "hooks", "demand"]),
    // Calls placed and answered from start to end, why one failed
    // (`call`), and the profiles a dial is set up from (their merge
    // yields a dialer's `CallSetup`; inbound checks an ifname with them).
    (
        "lifecycle",
        &["dialer", "answerer", "inbound", "access", "call", "profile"],
    ),
    // The binary's modules: another crate, which the library cannot name.
    ("cmd", &["cmd"]),
];

/// Edges that go up a layer today, each to be removed, not added to.
/// (`modem -> profile`, hidden behind the crate root's deadline helper, is
/// gone since the helper is the `deadline` module; `port -> inbound`, for `PortError::Inbound`, is gone since
/// `call::CallError` took that variant above both; `line -> pcap` since
/// the tap's direction is the core's `activity::Direction`, which pcap
/// imports.)
const KNOWN_UPWARD: &[(&str, &str)] = &[];

/// `a` for `a::b::c`.
fn top(m: &str) -> &str {
    m.split("::").next().unwrap_or(m)
}

/// The layer of `m`'s top-level module: its place from the bottom, and
/// its name.
fn layer_of(m: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, mods))| mods.contains(&top(m)))
        .map(|(i, (name, _))| (i, *name))
}

#[test]
fn every_top_level_module_has_a_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&root, &["main", "bin"]);
    let found: BTreeSet<&str> = g.keys().map(|m| top(m)).filter(|m| *m != "crate").collect();
    let listed: BTreeSet<&str> = LAYERS
        .iter()
        .flat_map(|(_, mods)| mods.iter().copied())
        .collect();
    let unlisted: Vec<_> = found.difference(&listed).collect();
    let gone: Vec<_> = listed.difference(&found).collect();
    assert!(
        unlisted.is_empty(),
        "modules with no layer in LAYERS: {unlisted:?}"
    );
    assert!(
        gone.is_empty(),
        "LAYERS lists modules that do not exist: {gone:?}"
    );
    let twice = LAYERS.iter().flat_map(|(_, mods)| mods.iter()).count() - listed.len();
    assert_eq!(twice, 0, "a module is in more than one layer");
}

#[test]
fn no_module_imports_a_higher_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let g = graph(&root, &["main", "bin"]);
    let mut upward = BTreeSet::new();
    let mut unknown = Vec::new();
    for (m, to) in &g {
        let Some((from, from_name)) = layer_of(m) else {
            continue; // the crate root; the test above names the rest
        };
        for t in to {
            let Some((up, up_name)) = layer_of(t) else {
                continue;
            };
            if up > from {
                let edge = (top(m), top(t));
                if KNOWN_UPWARD.contains(&edge) {
                    upward.insert(edge);
                } else {
                    unknown.push(format!("{m} ({from_name}) -> {t} ({up_name})"));
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "imports of a higher layer: {unknown:#?}"
    );
    let stale: Vec<_> = KNOWN_UPWARD
        .iter()
        .filter(|e| !upward.iter().any(|u| u == *e))
        .collect();
    assert!(
        stale.is_empty(),
        "KNOWN_UPWARD lists edges that are gone; remove them: {stale:?}"
    );
}

#[test]
fn carrier_hw_has_no_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("hw/src");
    let g = graph(&root, &[]);
    let c = circles(&g);
    eprintln!(
        "carrier-hw: {} modules, {} edges, {} circles",
        g.len(),
        edge_count(&g),
        c.len()
    );
    assert!(c.is_empty(), "import circles in carrier-hw: {c:?}");
}

#[test]
fn the_checker_finds_a_circle_and_a_group() {
    let code = code("use crate::a::{b, c::D}; // crate::zz\nlet s = \"crate::yy\"; super::e::f();");
    assert_eq!(
        paths_after(&code, "crate::"),
        [vec!["a", "b"], vec!["a", "c", "D"]]
    );
    assert_eq!(paths_after(&code, "super::"), [vec!["e", "f"]]);
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    g.entry("d".into()).or_default().insert("a".into());
    assert_eq!(circles(&g), [vec!["a", "b", "c"]]);
}

/// The checks above leave out edges to the crate root, so the root must
/// hold nothing a module could import: a helper there would hide an arrow
/// (a `crate::helper` in modem reading a profile constant went unseen).
#[test]
fn the_crate_root_only_declares_modules() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let items: Vec<&str> = lib
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .filter(|l| !(l.starts_with("pub mod ") || l.starts_with("mod ")))
        .collect();
    assert!(
        items.is_empty(),
        "src/lib.rs holds more than modules: {items:?}"
    );
}
