//! The body checks of `messages:send`, in the order of protocols/fcm.md §8 rows S5–S8 and S10:
//! structure and field names (snake_case or lowerCamelCase), value types, exactly one target,
//! value rules, then the 4096-byte size rule.
//!
//! Texts follow §5 where it quotes Google (`Invalid JSON payload received. Unknown name …`,
//! `Invalid value at '<path>' (<type>), <value>`, "Android message is too big"); the texts of
//! rows S7 and S8 are our model (§8 marks them so).

use super::node::Node;
use super::response::{ApiError, Detail, TOO_BIG, fcm};
use super::schema::{MESSAGE, TARGETS, Ty};

/// The payload limit (§4).
pub const MAX_PAYLOAD_BYTES: usize = 4096;
/// Longest `android.ttl` (28 days, §3).
pub const MAX_TTL_SECS: u64 = 2_419_200;

/// The message's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Token(String),
    Topic(String),
    Condition(String),
    Fid(String),
}

/// A body that passed S5–S10.
#[derive(Debug)]
pub(crate) struct Checked {
    pub validate_only: bool,
    pub target: Target,
    /// S9's condition: no notification (neither `message.notification` nor
    /// `apns.payload.aps.alert`) and `apns.headers.apns-priority` "10". Refused for iOS tokens.
    pub apple_data_only_high: bool,
}

/// `lowerCamelCase` → `snake_case`; snake_case names come back unchanged.
fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn unknown_name(name: &str, at: &str) -> ApiError {
    let message = if at.is_empty() {
        format!("Invalid JSON payload received. Unknown name \"{name}\": Cannot find field.")
    } else {
        format!(
            "Invalid JSON payload received. Unknown name \"{name}\" at '{at}': Cannot find field."
        )
    };
    ApiError::bad_field(at, message)
}

fn invalid_value(path: &str, ty: &str, value: &Node) -> ApiError {
    let shown = match value {
        Node::String(s) => format!("\"{s}\""),
        other => other.to_json().to_string(),
    };
    ApiError::bad_field(path, format!("Invalid value at '{path}' ({ty}), {shown}"))
}

fn is_duration(text: &str) -> bool {
    let Some(number) = text.strip_suffix('s') else {
        return false;
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    !whole.is_empty()
        && digits(whole)
        && digits(frac)
        && frac.len() <= 9
        && !(number.contains('.') && frac.is_empty())
}

/// S5 and S6 for one object of `fields` at `path`.
fn check_object(node: &Node, fields: &[(&str, Ty)], path: &str) -> Result<(), ApiError> {
    let Node::Object(members) = node else {
        return Err(invalid_value(path, "TYPE_MESSAGE", node));
    };
    for (name, value) in members {
        let key = snake(name);
        let Some((field, ty)) = fields.iter().find(|(f, _)| *f == key) else {
            return Err(unknown_name(name, path));
        };
        if *value == Node::Null {
            continue;
        }
        let at = if path.is_empty() {
            (*field).to_owned()
        } else {
            format!("{path}.{field}")
        };
        check_value(value, *ty, &at)?;
    }
    Ok(())
}

fn check_value(value: &Node, ty: Ty, path: &str) -> Result<(), ApiError> {
    match ty {
        Ty::Str if value.as_str().is_none() => Err(invalid_value(path, "TYPE_STRING", value)),
        Ty::Bool if !matches!(value, Node::Bool(_)) => Err(invalid_value(path, "TYPE_BOOL", value)),
        Ty::Int32 => {
            let n = match value {
                Node::Number(n) => n.as_i64(),
                Node::String(s) => s.parse::<i64>().ok(),
                _ => None,
            };
            match n {
                Some(n) if i32::try_from(n).is_ok() => Ok(()),
                _ => Err(invalid_value(path, "TYPE_INT32", value)),
            }
        }
        Ty::Float if !matches!(value, Node::Number(_)) => {
            Err(invalid_value(path, "TYPE_FLOAT", value))
        }
        Ty::Map | Ty::StrList => {
            let items: Vec<&Node> = match (value, ty) {
                (Node::Object(members), Ty::Map) => members.iter().map(|(_, v)| v).collect(),
                (Node::Array(items), Ty::StrList) => items.iter().collect(),
                _ => return Err(invalid_value(path, "TYPE_MESSAGE", value)),
            };
            for (i, item) in items.into_iter().enumerate() {
                if item.as_str().is_none() {
                    let at = match ty {
                        Ty::Map => format!("{path}[{i}].value"),
                        _ => format!("{path}[{i}]"),
                    };
                    return Err(invalid_value(&at, "TYPE_STRING", item));
                }
            }
            Ok(())
        }
        Ty::Obj(fields) => check_object(value, fields, path),
        Ty::Struct if !matches!(value, Node::Object(_)) => Err(invalid_value(
            path,
            "type.googleapis.com/google.protobuf.Struct",
            value,
        )),
        Ty::Duration if !value.as_str().is_some_and(is_duration) => Err(invalid_value(
            path,
            "type.googleapis.com/google.protobuf.Duration",
            value,
        )),
        Ty::DurationList => match value {
            Node::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    check_value(item, Ty::Duration, &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            _ => Err(invalid_value(path, "TYPE_MESSAGE", value)),
        },
        Ty::Enum(name, values, any_case) => {
            let known = value.as_str().is_some_and(|v| {
                values
                    .iter()
                    .any(|known| *known == v || (any_case && known.eq_ignore_ascii_case(v)))
            });
            if known {
                Ok(())
            } else {
                let ty = format!("type.googleapis.com/google.firebase.fcm.v1.{name}");
                Err(invalid_value(path, &ty, value))
            }
        }
        _ => Ok(()),
    }
}

/// A member of an object by its snake_case name, given in either spelling.
fn member<'a>(node: &'a Node, name: &str) -> Option<&'a Node> {
    match node {
        Node::Object(members) => members
            .iter()
            .find(|(k, v)| snake(k) == name && *v != Node::Null)
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Runs S5–S8 and S10 on a send body; `strict_size` counts the whole message (minus the
/// target) against the 4096 bytes instead of the data keys and values.
pub(crate) fn check(body: &[u8], strict_size: bool) -> Result<Checked, ApiError> {
    let root: Node = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_field(
            "",
            format!("Invalid JSON payload received. Unexpected token: {e}"),
        )
    })?;
    let top = [("validate_only", Ty::Bool), ("message", Ty::Obj(MESSAGE))];
    check_object(&root, &top, "")?;
    let validate_only = matches!(member(&root, "validate_only"), Some(Node::Bool(true)));
    let Some(message) = member(&root, "message") else {
        return Err(ApiError::invalid_argument(
            "Recipient of the message is not set.",
        ));
    };

    // S7: exactly one target.
    let mut target = None;
    for name in TARGETS {
        let Some(value) = member(message, name).and_then(Node::as_str) else {
            continue;
        };
        if target.is_some() {
            return Err(ApiError::bad_field(
                "message",
                format!(
                    "Invalid JSON payload received. Oneof field 'target' is already set. \
                     Cannot set '{name}'"
                ),
            ));
        }
        let value = value.to_owned();
        target = Some(match name {
            "token" => Target::Token(value),
            "topic" => Target::Topic(value),
            "condition" => Target::Condition(value),
            _ => Target::Fid(value),
        });
    }
    let Some(target) = target else {
        return Err(ApiError::invalid_argument(
            "Recipient of the message is not set.",
        ));
    };

    // S8: value rules.
    if let Target::Topic(topic) = &target {
        let ok = !topic.is_empty()
            && topic
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b));
        if !ok {
            return Err(ApiError::invalid_argument(format!(
                "Invalid topic name: {topic}"
            )));
        }
    }
    let android = member(message, "android");
    let data = android
        .and_then(|a| member(a, "data"))
        .or_else(|| member(message, "data"));
    for map in [
        member(message, "data"),
        android.and_then(|a| member(a, "data")),
    ]
    .into_iter()
    .flatten()
    {
        if let Node::Object(members) = map {
            for (key, _) in members {
                let reserved = key == "from"
                    || key == "message_type"
                    || key.starts_with("google.")
                    || key.starts_with("gcm.notification.");
                if reserved {
                    return Err(ApiError::invalid_argument(format!(
                        "Invalid data payload key: {key}"
                    )));
                }
            }
        }
    }
    if let Some(ttl) = android
        .and_then(|a| member(a, "ttl"))
        .and_then(Node::as_str)
    {
        let secs: u64 = ttl
            .trim_end_matches('s')
            .split('.')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        if secs > MAX_TTL_SECS {
            return Err(ApiError::invalid_argument(format!(
                "android.ttl must be at most {MAX_TTL_SECS}s, got {ttl}"
            )));
        }
    }
    let color = android
        .and_then(|a| member(a, "notification"))
        .and_then(|n| member(n, "color"))
        .and_then(Node::as_str);
    if let Some(color) = color {
        let ok = color.len() == 7
            && color.starts_with('#')
            && color[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if !ok {
            return Err(ApiError::invalid_argument(format!(
                "android.notification.color must be in the form #rrggbb, got {color}"
            )));
        }
    }
    let link = member(message, "webpush")
        .and_then(|w| member(w, "fcm_options"))
        .and_then(|o| member(o, "link"))
        .and_then(Node::as_str);
    if let Some(link) = link
        && !link.starts_with("https://")
    {
        return Err(ApiError::invalid_argument(
            "webpush.fcm_options.link must be an HTTPS URL",
        ));
    }

    // S10: the size rule.
    if payload_size(message, data, strict_size) > MAX_PAYLOAD_BYTES {
        return Err(ApiError::new(400, "INVALID_ARGUMENT", TOO_BIG)
            .detail(Detail::BadRequest {
                field_violations: Vec::new(),
            })
            .detail(fcm("INVALID_ARGUMENT")));
    }
    let apns = member(message, "apns");
    let priority_10 = apns
        .and_then(|a| member(a, "headers"))
        .and_then(|h| member(h, "apns-priority"))
        .and_then(Node::as_str)
        == Some("10");
    let alert = apns
        .and_then(|a| member(a, "payload"))
        .and_then(|p| member(p, "aps"))
        .and_then(|aps| member(aps, "alert"));
    let data_only = member(message, "notification").is_none() && alert.is_none();
    Ok(Checked {
        validate_only,
        target,
        apple_data_only_high: data_only && priority_10,
    })
}

/// S10: UTF-8 bytes of the effective `data` keys and values (\[I8\]), or with `strict` the
/// compact JSON of the message without its target.
pub(crate) fn payload_size(message: &Node, data: Option<&Node>, strict: bool) -> usize {
    if strict {
        let mut json = message.to_json();
        if let Some(object) = json.as_object_mut() {
            object.retain(|k, _| !TARGETS.contains(&snake(k).as_str()));
        }
        return json.to_string().len();
    }
    match data {
        Some(Node::Object(members)) => members
            .iter()
            .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
            .sum(),
        _ => 0,
    }
}
