//! Query parameters: few and simple (`wait`, `after`, `limit`), parsed here so a bad one is a
//! problem answer, and an unknown one is refused rather than ignored.

use std::time::Duration;

use super::Problem;

/// The parameters of `raw`, refusing names not in `known`.
pub(crate) fn params<'a>(
    raw: Option<&'a str>,
    known: &[&str],
) -> Result<Vec<(&'a str, &'a str)>, Problem> {
    let mut out = Vec::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !known.contains(&name) {
            return Err(Problem::invalid_query(format!(
                "unknown parameter {name:?}"
            )));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// A duration such as `500ms`, `5s` or `2m`.
pub(crate) fn duration(value: &str) -> Result<Duration, Problem> {
    let bad = || {
        Problem::invalid_query(format!(
            "{value:?} is not a duration such as 500ms, 5s or 1m"
        ))
    };
    let split = value.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (digits, unit) = value.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("500ms").ok(), Some(Duration::from_millis(500)));
        assert_eq!(duration("5s").ok(), Some(Duration::from_secs(5)));
        assert_eq!(duration("2m").ok(), Some(Duration::from_secs(120)));
        assert!(duration("5").is_err());
        assert!(duration("s").is_err());
        assert!(duration("5h").is_err());
    }

    #[test]
    fn unknown_parameters_are_refused() {
        assert!(params(Some("wait=1s"), &["wait"]).is_ok());
        assert!(params(Some("wiat=1s"), &["wait"]).is_err());
    }
}
