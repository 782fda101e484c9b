//! Receipt callbacks: what Xiaomi posts to the URL set with
//! [`XiaomiProviderBuilder::receipt_callback`](crate::XiaomiProviderBuilder::receipt_callback).
//!
//! Xiaomi posts a form with one field, `data`, whose value is a JSON object keyed by Xiaomi
//! message id (protocols/xiaomi.md §9):
//! `{"<msgId>":{"param":"<tag>","type":16,"targets":"regid1,regid2","timestamp":1700000000000}}`.
//! Receipts of type 16 (invalid target) replace the retired invalid-regid feedback API: delete
//! the regids they list. This module only parses (pure); serving the URL is the embedder's
//! (answer 200 quickly: receipts are batched and may be repeated).
//!
//! ```
//! let body = "data=%7B%22sdm1%22%3A%7B%22type%22%3A16%2C%22targets%22%3A%22ab%2Bcd%2Fef%3D%3D%22%7D%7D";
//! let dead = pushway_xiaomi::receipt::dead_regids(body.as_bytes()).unwrap();
//! assert_eq!(dead, ["ab+cd/ef=="]);
//! ```

use serde_json::Value;

/// Receipt type: delivered to the device.
pub const TYPE_DELIVERED: u32 = 1;
/// Receipt type: clicked.
pub const TYPE_CLICKED: u32 = 2;
/// Receipt type: invalid target (the regid is dead: delete it).
pub const TYPE_INVALID_TARGET: u32 = 16;
/// Receipt type: the app called `disablePush`.
pub const TYPE_PUSH_DISABLED: u32 = 32;
/// Receipt type: the device did not match the message's filters.
pub const TYPE_FILTERED: u32 = 64;
/// Receipt type: the daily quota was exceeded.
pub const TYPE_QUOTA_EXCEEDED: u32 = 128;

/// One receipt of a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Xiaomi's message id (the `vendor_id` of the `Delivered` outcome).
    pub message_id: String,
    /// The receipt type (`TYPE_*`).
    pub kind: u32,
    /// The regids (or aliases) the receipt is about.
    pub targets: Vec<String>,
    /// The `extra.callback.param` sent with the message (pushway sends the message id).
    pub param: Option<String>,
    /// When, in milliseconds since the epoch, if given.
    pub timestamp_ms: Option<u64>,
}

/// A callback body that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable Xiaomi receipt callback: {0}")]
pub struct ReceiptError(&'static str);

/// Parses a callback body: the form (`data=<JSON>`), or the bare JSON object.
pub fn parse(body: &[u8]) -> Result<Vec<Receipt>, ReceiptError> {
    let trimmed = body.trim_ascii_start();
    let json: Value = if trimmed.first() == Some(&b'{') {
        serde_json::from_slice(trimmed).map_err(|_| ReceiptError("body is not JSON"))?
    } else {
        let data = form_urlencoded::parse(body)
            .find(|(k, _)| k == "data")
            .map(|(_, v)| v)
            .ok_or(ReceiptError("no `data` field"))?;
        serde_json::from_str(&data).map_err(|_| ReceiptError("`data` is not JSON"))?
    };
    let object = json
        .as_object()
        .ok_or(ReceiptError("`data` is not an object"))?;
    let mut receipts = Vec::with_capacity(object.len());
    for (message_id, entry) in object {
        let entry = entry
            .as_object()
            .ok_or(ReceiptError("a receipt is not an object"))?;
        let kind = entry
            .get("type")
            .and_then(number)
            .and_then(|n| u32::try_from(n).ok())
            .ok_or(ReceiptError("a receipt has no numeric `type`"))?;
        let targets = match entry.get("targets") {
            Some(Value::String(list)) => list
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        receipts.push(Receipt {
            message_id: message_id.clone(),
            kind,
            targets,
            param: entry
                .get("param")
                .and_then(Value::as_str)
                .map(str::to_owned),
            timestamp_ms: entry.get("timestamp").and_then(number),
        });
    }
    Ok(receipts)
}

/// The regids of every type-16 (invalid target) receipt of a callback body, in order: the
/// tokens to delete.
pub fn dead_regids(body: &[u8]) -> Result<Vec<String>, ReceiptError> {
    Ok(parse(body)?
        .into_iter()
        .filter(|r| r.kind == TYPE_INVALID_TARGET)
        .flat_map(|r| r.targets)
        .collect())
}

/// A JSON number or numeric string, as Xiaomi writes numbers either way.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(json: &str) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("data", json)
            .finish()
    }

    #[test]
    fn parses_the_documented_receipts() {
        let body = form(
            r#"{"sdm1":{"param":"m_9001","type":1,"targets":"REGID_A","timestamp":1700000000000},
                "sdm2":{"type":"16","targets":"ab+cd/ef==,REGID_B","jobkey":"j","barStatus":"Enable"}}"#,
        );
        let receipts = parse(body.as_bytes()).unwrap();
        assert_eq!(receipts.len(), 2);
        assert_eq!(
            receipts[0],
            Receipt {
                message_id: "sdm1".into(),
                kind: TYPE_DELIVERED,
                targets: vec!["REGID_A".into()],
                param: Some("m_9001".into()),
                timestamp_ms: Some(1_700_000_000_000),
            }
        );
        assert_eq!(receipts[1].kind, TYPE_INVALID_TARGET);
        assert_eq!(
            dead_regids(body.as_bytes()).unwrap(),
            ["ab+cd/ef==", "REGID_B"]
        );
    }

    #[test]
    fn bare_json_and_errors() {
        let dead = dead_regids(br#" {"m":{"type":16,"targets":["x","y"]}}"#).unwrap();
        assert_eq!(dead, ["x", "y"]);
        assert!(parse(b"foo=bar").is_err());
        assert!(parse(b"data=%5B%5D").is_err());
        assert!(parse(br#"{"m":{"targets":"x"}}"#).is_err());
        assert_eq!(parse(b"data=%7B%7D").unwrap(), []);
    }
}
