//! Pure checks of single values used by validation: label keys, `http(s)://host[:port]` endpoints and the
//! `route53.record_types` list. Each returns every problem it finds as text for the settings error.

use std::net::Ipv6Addr;

use super::RecordTypeSet;

/// A Docker label key: non-empty, no whitespace, no `=`.
pub(super) fn label_key(s: &String) -> Result<(), String> {
    if s.is_empty() || s.contains(char::is_whitespace) || s.contains('=') {
        Err(format!(
            "{s:?} is not a Docker label key (non-empty, no spaces, no '=')"
        ))
    } else {
        Ok(())
    }
}

/// One problem per pair of label settings that hold the same key (a label can mean only one thing).
pub(super) fn distinct_labels(keys: &[(&str, &Option<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (a, va)) in keys.iter().enumerate() {
        for (b, vb) in &keys[i + 1..] {
            if let (Some(va), Some(vb)) = (va, vb) {
                if va == vb {
                    out.push(format!(
                        "{a} and {b}: both are {va:?}; the label keys must differ"
                    ));
                }
            }
        }
    }
    out
}

/// `http(s)://host[:port]`, at most a trailing `/`: no path, query, or user info.
pub(super) fn endpoint_url(s: &String) -> Result<(), String> {
    let bad = || format!("{s:?} must be http://host[:port] or https://host[:port]");
    let rest = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
        .ok_or_else(bad)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let (host_ok, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (inside, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(bad)?),
            };
            (inside.parse::<Ipv6Addr>().is_ok(), port)
        }
        None => {
            let (host, port) = match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            };
            let chars = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
            (!host.is_empty() && host.chars().all(chars), port)
        }
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// The set named by `list`, or every problem with it.
pub(super) fn record_type_set(list: &[String]) -> Result<RecordTypeSet, Vec<String>> {
    if list.is_empty() {
        return Err(vec![
            "must list at least one of \"A\", \"AAAA\", \"SRV\"".into()
        ]);
    }
    let mut set = RecordTypeSet {
        a: false,
        aaaa: false,
        srv: false,
    };
    let mut problems = Vec::new();
    for t in list {
        let slot = match t.trim().to_ascii_uppercase().as_str() {
            "A" => &mut set.a,
            "AAAA" => &mut set.aaaa,
            "SRV" => &mut set.srv,
            _ => {
                problems.push(format!("{t:?} is not a record type (A, AAAA or SRV)"));
                continue;
            }
        };
        if std::mem::replace(slot, true) {
            problems.push(format!("{t:?} is listed twice"));
        }
    }
    if problems.is_empty() {
        Ok(set)
    } else {
        Err(problems)
    }
}
