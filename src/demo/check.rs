//! Checking a message against what the demo expects: each recipient's outcome from the status
//! API and what each vendor (or daemon device) received. Both are printed as they are; every
//! difference is printed with a ✗ and counted.

use serde_json::Value;

use super::received::Received;
use super::scenario::{Outcomes, Sent};

/// Prints each recipient's outcome from the status body; returns how many differ from `expected`
/// (`user` or `user/device`, outcome).
pub(super) fn check_outcomes(expected: &Outcomes, status: &Value) -> usize {
    println!("   outcomes (the status API):");
    let mut actual = Vec::new();
    for r in status["recipients"].as_array().into_iter().flatten() {
        let user = r["user_id"].as_str().unwrap_or_default();
        if let Some(reason) = r["suppressed"].as_str() {
            actual.push((
                user.to_owned(),
                format!("suppressed: {reason}"),
                String::new(),
            ));
        }
        for d in r["devices"].as_array().into_iter().flatten() {
            let label = format!("{user}/{}", d["device_id"].as_str().unwrap_or_default());
            let state = d["state"].as_str().unwrap_or("?").to_owned();
            let mut detail = format!(" ({}", d["kind"].as_str().unwrap_or("?"));
            if let Some(env) = d["apns_env"].as_str() {
                detail.push_str(&format!(" {env}"));
            }
            let attempts = d["attempts"].as_u64().unwrap_or(0);
            let plural = if attempts == 1 { "" } else { "s" };
            detail.push_str(&format!(", {attempts} attempt{plural}"));
            if let Some(reason) = d["last_reason"].as_str() {
                detail.push_str(&format!(", last: {reason}"));
            }
            detail.push(')');
            actual.push((label, state, detail));
        }
        for d in r["suppressed_devices"].as_array().into_iter().flatten() {
            let label = format!("{user}/{}", d["device_id"].as_str().unwrap_or_default());
            let reason = d["reason"].as_str().unwrap_or("?");
            actual.push((label, format!("left out: {reason}"), String::new()));
        }
    }
    for (label, outcome, detail) in &actual {
        println!("     {label:<13} {outcome}{detail}");
    }
    let mut got: Vec<(String, String)> = actual.into_iter().map(|(l, o, _)| (l, o)).collect();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(l, o)| ((*l).to_owned(), o.clone()))
        .collect();
    got.sort();
    want.sort();
    differences("outcome", &want, &got)
}

/// Prints what the vendors (and daemon devices) received; returns how many entries differ from
/// `expected`.
pub(super) fn check_received(expected: &[Sent], received: &[Received]) -> usize {
    if received.is_empty() {
        println!("   received: nothing");
    } else {
        println!("   received (by the vendor simulators and the daemon devices):");
        for r in received {
            println!("     {r}");
        }
    }
    let mut want: Vec<Received> = expected
        .iter()
        .map(|(vendor, device, fields)| Received {
            vendor,
            device: (*device).to_owned(),
            fields: fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        })
        .collect();
    want.sort_by(|a, b| (a.vendor, &a.device).cmp(&(b.vendor, &b.device)));
    let show = |r: &[Received]| r.iter().map(ToString::to_string).collect::<Vec<_>>();
    differences("vendor request", &show(&want), &show(received))
}

/// Prints a ✗ line for each entry of `want` missing from `got` and each extra one in `got`.
fn differences<T: PartialEq + std::fmt::Debug>(what: &str, want: &[T], got: &[T]) -> usize {
    let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).collect();
    let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).collect();
    for w in &missing {
        println!("   ✗ expected {what} missing: {w:?}");
    }
    for g in &extra {
        println!("   ✗ unexpected {what}: {g:?}");
    }
    let count_differs =
        usize::from(missing.is_empty() && extra.is_empty() && want.len() != got.len());
    if count_differs == 1 {
        println!("   ✗ expected {} {what}(s), got {}", want.len(), got.len());
    }
    missing.len() + extra.len() + count_differs
}

#[cfg(test)]
mod tests {
    use super::differences;

    #[test]
    fn every_missing_extra_or_repeated_entry_is_a_difference() {
        let want = ["a", "b"];
        assert_eq!(differences("x", &want, &["b", "a"]), 0);
        assert_eq!(differences("x", &want, &["a"]), 1);
        assert_eq!(differences("x", &want, &["a", "b", "c"]), 1);
        assert_eq!(differences("x", &want, &["a", "c"]), 2);
        assert_eq!(differences("x", &want, &["a", "b", "b"]), 1);
        assert_eq!(differences::<&str>("x", &[], &[]), 0);
    }
}
