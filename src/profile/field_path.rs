//! Field paths in a profile's TOML (`numbers[1].number`): the field at a
//! parser's error offset, and the line a field is on.

use std::ops::Range;

/// One step of a field's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

pub(super) fn path_string(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

pub(super) fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// The 1-based line of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn contains(span: Option<Range<usize>>, off: usize) -> bool {
    span.is_some_and(|s| s.contains(&off) || (s.is_empty() && s.start == off))
}

fn prepend(seg: Seg, mut rest: Vec<Seg>) -> Vec<Seg> {
    rest.insert(0, seg);
    rest
}

/// The path of the innermost key or value at byte `off`.
pub(super) fn locate_in_table(t: &toml_edit::Table, off: usize) -> Option<Vec<Seg>> {
    for (k, _) in t.iter() {
        let (kk, item) = t.get_key_value(k)?;
        if contains(kk.span(), off) {
            return Some(vec![key(k)]);
        }
        if let Some(p) = locate_in_item(item, off) {
            return Some(prepend(key(k), p));
        }
    }
    None
}

fn locate_in_item(item: &toml_edit::Item, off: usize) -> Option<Vec<Seg>> {
    use toml_edit::Item;
    match item {
        Item::None => None,
        Item::Value(v) => locate_in_value(v, off),
        Item::Table(t) => {
            locate_in_table(t, off).or_else(|| contains(t.span(), off).then(Vec::new))
        }
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                if let Some(p) = locate_in_table(t, off) {
                    return Some(prepend(Seg::Index(i), p));
                }
                if contains(t.span(), off) {
                    return Some(vec![Seg::Index(i)]);
                }
            }
            contains(a.span(), off).then(Vec::new)
        }
    }
}

fn locate_in_value(v: &toml_edit::Value, off: usize) -> Option<Vec<Seg>> {
    use toml_edit::Value;
    if !contains(v.span(), off) {
        return None;
    }
    match v {
        Value::Array(a) => {
            for (i, e) in a.iter().enumerate() {
                if let Some(p) = locate_in_value(e, off) {
                    return Some(prepend(Seg::Index(i), p));
                }
            }
        }
        Value::InlineTable(t) => {
            for (k, _) in t.iter() {
                let (kk, item) = t.get_key_value(k)?;
                if contains(kk.span(), off) {
                    return Some(vec![key(k)]);
                }
                if let Some(p) = locate_in_item(item, off) {
                    return Some(prepend(key(k), p));
                }
            }
        }
        _ => {}
    }
    Some(Vec::new())
}

/// The span to report for a path: a key's own span (its `key =` line),
/// an array element's value.
pub(super) fn span_of(doc: &toml_edit::Table, path: &[Seg]) -> Option<Range<usize>> {
    let (first, rest) = path.split_first()?;
    let Seg::Key(k) = first else { return None };
    let (kk, item) = doc.get_key_value(k)?;
    // Cloning keeps the walk simple; profiles are small.
    span_of_rest(kk.span().or_else(|| item.span()), item.clone(), rest)
}

fn span_of_rest(
    span: Option<Range<usize>>,
    item: toml_edit::Item,
    rest: &[Seg],
) -> Option<Range<usize>> {
    use toml_edit::{Item, Value};
    let Some((seg, tail)) = rest.split_first() else {
        return span;
    };
    let next = match (seg, &item) {
        (Seg::Index(i), Item::Value(Value::Array(a))) => {
            a.get(*i).map(|v| (v.span(), Item::Value(v.clone())))
        }
        (Seg::Index(i), Item::ArrayOfTables(a)) => {
            a.get(*i).map(|t| (t.span(), Item::Table(t.clone())))
        }
        (Seg::Key(k), Item::Table(t)) => t
            .get_key_value(k)
            .map(|(kk, it)| (kk.span().or_else(|| it.span()), it.clone())),
        (Seg::Key(k), Item::Value(Value::InlineTable(t))) => t
            .get_key_value(k)
            .map(|(kk, it)| (kk.span().or_else(|| it.span()), it.clone())),
        _ => None,
    };
    match next {
        Some((s, it)) => span_of_rest(s.or(span), it, tail),
        None => span,
    }
}
