//! TIM bodies → pushway's message model (the JSON `POST /messages` takes), its recipients and
//! an idempotency key. Pure.

use serde_json::{Map, Value, json};

use super::body::{Accounts, C2cBody, Element, GroupBody, OfflinePushInfo, PushBody, RawElement};
use super::error::*;
use crate::service::RecipientIn;

/// What a TIM request becomes.
#[derive(Debug)]
pub(crate) struct Converted {
    pub(crate) message: Map<String, Value>,
    pub(crate) recipients: Vec<RecipientIn>,
    /// Built from the command, the sender, the recipients (or group) and `MsgRandom`, so a
    /// retried request is accepted once (tim.md §1.1: `MsgRandom` is the dedupe key).
    pub(crate) key: String,
}

/// What converting needs besides the body.
pub(crate) struct Context<'a> {
    /// The URL's `identifier` (the calling admin): the sender when `From_Account` is absent.
    pub(crate) identifier: Option<&'a str>,
    /// The app's Android package, to turn `AndroidInfo.Sound` names into resource URIs.
    pub(crate) android_package: Option<&'a str>,
}

/// `sendmsg` (`batch` false) or `batchsendmsg` (`batch` true).
pub(crate) fn c2c(body: C2cBody, batch: bool, cx: &Context<'_>) -> Result<Converted, TimError> {
    let to = match (body.To_Account, batch) {
        (None, _) => return Err(TimError::new(NO_TO_ACCOUNT, "To_Account: required")),
        (Some(Accounts::One(one)), false) => vec![one],
        (Some(Accounts::Many(many)), true) => many,
        (Some(_), false) => {
            return Err(TimError::new(BAD_REQUEST, "To_Account: must be a string"));
        }
        (Some(_), true) => {
            return Err(TimError::new(BAD_REQUEST, "To_Account: must be an array"));
        }
    };
    let Some(first) = to.first().cloned() else {
        return Err(TimError::new(
            NO_TO_ACCOUNT,
            "To_Account: at least one account",
        ));
    };
    let random = body
        .MsgRandom
        .ok_or_else(|| TimError::new(NO_MSG_RANDOM, "MsgRandom: required"))?;
    check_targets(&to)?;
    let elements = body
        .MsgBody
        .filter(|b| !b.is_empty())
        .ok_or_else(|| TimError::new(BAD_MSG_BODY, "MsgBody: required, at least one element"))?;
    if body.MsgLifeTime.is_some_and(|t| t > MAX_LIFETIME_SECS) {
        return Err(TimError::new(
            LIFETIME_TOO_LONG,
            format!("MsgLifeTime: at most {MAX_LIFETIME_SECS} seconds"),
        ));
    }
    check_values(
        "SendMsgControl",
        body.SendMsgControl.as_deref().unwrap_or_default(),
        &[
            "NoUnread",
            "NoLastMsg",
            "WithMuteNotifications",
            "NoMsgCheck",
        ],
    )?;
    check_values(
        "ForbidCallbackControl",
        body.ForbidCallbackControl.as_deref().unwrap_or_default(),
        &["ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"],
    )?;
    let from = sender(body.From_Account, cx)?;
    let with_mute = body
        .SendMsgControl
        .iter()
        .flatten()
        .any(|c| c == "WithMuteNotifications");

    let mut message = Map::new();
    // The peer is not rendered (a C2C push's conversation is the sender); a batch names its
    // first recipient.
    message.insert("conversation".into(), json!({"type": "c2c", "peer": first}));
    message.insert("sender".into(), json!({"user_id": from}));
    let push = body.OfflinePushInfo;
    let (elements, custom_sound) = elements_json(elements, push.is_some())?;
    message.insert("elements".into(), Value::Array(elements));
    match body.MsgLifeTime {
        // 0 = online users only (tim.md §1.1, §7 item 5).
        Some(0) => {}
        Some(secs) => {
            message.insert("ttl_secs".into(), json!(secs));
        }
        None => {}
    }
    message.insert(
        "control".into(),
        json!({
            "online_only": body.MsgLifeTime == Some(0),
            // REST `sendmsg` ignores the recipient's mute of the sender unless asked (§7.7).
            "ignore_peer_mute": !with_mute,
        }),
    );
    message.insert("push".into(), push_json(push.as_ref(), custom_sound, cx)?);
    let command = if batch { "batchsendmsg" } else { "sendmsg" };
    Ok(Converted {
        key: key(command, random, &from, &to.join("\n")),
        recipients: recipients(&to),
        message,
    })
}

/// `send_group_msg`.
pub(crate) fn group(body: GroupBody, cx: &Context<'_>) -> Result<Converted, TimError> {
    let group = body
        .GroupId
        .filter(|g| !g.is_empty())
        .ok_or_else(|| TimError::new(GROUP_UNKNOWN, "GroupId: required"))?;
    let random = body
        .Random
        .ok_or_else(|| TimError::new(NO_MSG_RANDOM, "Random: required"))?;
    let elements = body
        .MsgBody
        .filter(|b| !b.is_empty())
        .ok_or_else(|| TimError::new(BAD_MSG_BODY, "MsgBody: required, at least one element"))?;
    let members = body.Pushway_Members.filter(|m| !m.is_empty()).ok_or_else(|| {
        TimError::new(
            GROUP_UNKNOWN,
            "Pushway_Members: required: the user ids to push to (pushway does not keep group memberships)",
        )
    })?;
    check_values(
        "MsgPriority",
        body.MsgPriority.as_slice(),
        &["High", "Normal", "Low", "Lowest"],
    )?;
    check_values(
        "SendMsgControl",
        body.SendMsgControl.as_deref().unwrap_or_default(),
        &["NoLastMsg", "NoUnread"],
    )?;
    check_values(
        "ForbidCallbackControl",
        body.ForbidCallbackControl.as_deref().unwrap_or_default(),
        &["ForbidBeforeSendMsgCallback", "ForbidAfterSendMsgCallback"],
    )?;
    let online_only = body.OnlineOnlyFlag.is_some_and(|f| f > 0);
    if online_only && body.SendMsgControl.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(TimError::new(
            BAD_REQUEST,
            "SendMsgControl: cannot be combined with OnlineOnlyFlag",
        ));
    }
    let from = sender(body.From_Account, cx)?;
    let mut mentions = json!({"user_ids": [], "all": false});
    for (i, at) in body.GroupAtInfo.iter().flatten().enumerate() {
        match (at.GroupAtAllFlag, &at.GroupAt_Account) {
            (Some(1), None) => mentions["all"] = json!(true),
            (Some(0) | None, Some(user)) => {
                if let Some(ids) = mentions["user_ids"].as_array_mut() {
                    ids.push(json!(user));
                }
            }
            _ => {
                return Err(TimError::new(
                    BAD_REQUEST,
                    format!("GroupAtInfo[{i}]: GroupAtAllFlag 1, or GroupAt_Account"),
                ));
            }
        }
    }

    let mut message = Map::new();
    message.insert("conversation".into(), json!({"type": "group", "id": group}));
    message.insert("sender".into(), json!({"user_id": from}));
    let push = body.OfflinePushInfo;
    let (elements, custom_sound) = elements_json(elements, push.is_some())?;
    message.insert("elements".into(), Value::Array(elements));
    message.insert("mentions".into(), mentions);
    message.insert("control".into(), json!({"online_only": online_only}));
    message.insert("push".into(), push_json(push.as_ref(), custom_sound, cx)?);
    Ok(Converted {
        key: key("send_group_msg", random, &from, &group),
        recipients: recipients(&members),
        message,
    })
}

/// `timpush/batch`: a push with no chat message, from `From_Account` (a C2C conversation).
pub(crate) fn push(body: PushBody, cx: &Context<'_>) -> Result<Converted, TimError> {
    let (to, first) = match body.To_Account {
        None => return Err(TimError::new(NO_TO_ACCOUNT, "To_Account: required")),
        Some(Accounts::Many(many)) => match many.first().cloned() {
            Some(first) => (many, first),
            None => {
                return Err(TimError::new(
                    NO_TO_ACCOUNT,
                    "To_Account: at least one account",
                ));
            }
        },
        Some(Accounts::One(_)) => {
            return Err(TimError::new(BAD_REQUEST, "To_Account: must be an array"));
        }
    };
    let random = body
        .MsgRandom
        .ok_or_else(|| TimError::new(NO_MSG_RANDOM, "MsgRandom: required"))?;
    check_targets(&to)?;
    let push = body
        .OfflinePushInfo
        .ok_or_else(|| TimError::new(BAD_REQUEST, "OfflinePushInfo: required"))?;
    if body
        .DataId
        .as_ref()
        .is_some_and(|d| d.len() > MAX_DATA_ID_BYTES)
    {
        return Err(TimError::new(
            BAD_REQUEST,
            format!("DataId: at most {MAX_DATA_ID_BYTES} bytes"),
        ));
    }
    let from = sender(body.From_Account, cx)?;
    let mut message = Map::new();
    message.insert("conversation".into(), json!({"type": "c2c", "peer": first}));
    message.insert("sender".into(), json!({"user_id": from}));
    message.insert("push".into(), push_json(Some(&push), None, cx)?);
    Ok(Converted {
        key: key("timpush_batch", random, &from, &to.join("\n")),
        recipients: recipients(&to),
        message,
    })
}

fn check_targets(to: &[String]) -> Result<(), TimError> {
    if to.len() > MAX_TARGETS {
        return Err(TimError::new(
            TOO_MANY_TARGETS,
            format!(
                "To_Account: at most {MAX_TARGETS} accounts, got {}",
                to.len()
            ),
        ));
    }
    Ok(())
}

fn check_values(field: &str, values: &[String], allowed: &[&str]) -> Result<(), TimError> {
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(v) => Err(TimError::new(
            BAD_REQUEST,
            format!("{field}: {v:?} is not supported (one of {allowed:?})"),
        )),
        None => Ok(()),
    }
}

fn sender(from: Option<String>, cx: &Context<'_>) -> Result<String, TimError> {
    from.filter(|f| !f.is_empty())
        .or_else(|| cx.identifier.map(str::to_owned))
        .ok_or_else(|| {
            TimError::new(
                BAD_REQUEST,
                "From_Account: required when the URL names no identifier",
            )
        })
}

fn recipients(users: &[String]) -> Vec<RecipientIn> {
    users
        .iter()
        .map(|u| RecipientIn {
            user_id: u.clone(),
            unread: 0,
        })
        .collect()
}

/// `tim:<command>:<random>:<sha256 of sender and target>`: a fixed length whatever the ids.
fn key(command: &str, random: u32, from: &str, target: &str) -> String {
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        format!("{from}\0{target}").as_bytes(),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("tim:{command}:{random}:{hex}")
}

/// The core elements, and the custom element's `Sound` (the APNs sound when the message has no
/// `OfflinePushInfo`, tim.md §2).
fn elements_json(
    elements: Vec<RawElement>,
    has_push_info: bool,
) -> Result<(Vec<Value>, Option<String>), TimError> {
    let mut out = Vec::with_capacity(elements.len());
    let mut custom_sound = None;
    let mut customs = 0;
    for (i, raw) in elements.into_iter().enumerate() {
        out.push(match raw.parse(i)? {
            Element::Text(t) => json!({"type": "text", "text": t.Text}),
            Element::Location(_) => json!({"type": "location"}),
            Element::Face(_) => json!({"type": "face"}),
            Element::Sound(_) => json!({"type": "sound"}),
            Element::Image(_) => json!({"type": "image"}),
            Element::File(_) => json!({"type": "file"}),
            Element::Video(_) => json!({"type": "video"}),
            Element::Custom(c) => {
                customs += 1;
                if customs > 1 {
                    return Err(TimError::new(
                        BAD_MSG_BODY,
                        "MsgBody: at most one TIMCustomElem per message",
                    ));
                }
                let mut custom = json!({"type": "custom", "desc": c.Desc.unwrap_or_default()});
                // With an OfflinePushInfo, the element's push fields (Ext, Sound) are ignored
                // (tim.md §3); its Desc still shows when OfflinePushInfo has no Desc.
                if !has_push_info {
                    if let Some(ext) = c.Ext.filter(|e| !e.is_empty()) {
                        custom["ext"] = json!(ext);
                    }
                    custom_sound = c.Sound.filter(|s| !s.is_empty());
                }
                custom
            }
        });
    }
    Ok((out, custom_sound))
}

/// The per-message push settings. TIM's `Title` is every platform's title; `ApnsInfo.Title`
/// replaces it on iOS (tim.md §3). The badge is never set: TIM counts it from the unread total
/// its SDK reports (tim.md §6), which pushway does not receive.
fn push_json(
    info: Option<&OfflinePushInfo>,
    custom_sound: Option<String>,
    cx: &Context<'_>,
) -> Result<Value, TimError> {
    let mut android = json!({});
    let mut ios = json!({"badge_enabled": false});
    let mut push = json!({});
    let ios_sound = info
        .and_then(|i| i.ApnsInfo.as_ref())
        .and_then(|a| a.Sound.clone())
        .or(custom_sound);
    if let Some(sound) = ios_sound.filter(|s| !s.is_empty()) {
        // The SDK's "no sound" value (tim.md §3.3) [inferred for REST].
        ios["sound"] = if sound == "push.no_sound" {
            json!("no_sound_no_vibration")
        } else {
            json!({"file": sound})
        };
    }
    if let Some(info) = info {
        match info.PushFlag {
            None | Some(0) => {}
            Some(1) => push["enabled"] = json!(false),
            Some(other) => {
                return Err(TimError::new(
                    BAD_REQUEST,
                    format!("OfflinePushInfo.PushFlag: 0 or 1, got {other}"),
                ));
            }
        }
        if let Some(desc) = &info.Desc {
            push["descr"] = json!(desc);
        }
        if let Some(ext) = info.Ext.as_ref().filter(|e| !e.is_empty()) {
            push["ext"] = json!(ext);
        }
        if let Some(title) = &info.Title {
            android["title"] = json!(title);
            ios["title"] = json!(title);
        }
        if let Some(sound) = info
            .AndroidInfo
            .as_ref()
            .and_then(|a| a.Sound.as_deref())
            .filter(|s| !s.is_empty())
        {
            android["sound"] = json!(android_sound(sound, cx)?);
        }
        if let Some(apns) = &info.ApnsInfo {
            if let Some(mode) = apns.BadgeMode.filter(|m| *m > 1) {
                return Err(TimError::new(
                    BAD_REQUEST,
                    format!("OfflinePushInfo.ApnsInfo.BadgeMode: 0 or 1, got {mode}"),
                ));
            }
            if let Some(title) = apns.Title.as_ref().filter(|t| !t.is_empty()) {
                ios["title"] = json!(title);
            }
            if let Some(subtitle) = &apns.SubTitle {
                ios["subtitle"] = json!(subtitle);
            }
        }
    }
    push["android"] = android;
    push["ios"] = ios;
    Ok(push)
}

/// TIM's `AndroidInfo.Sound` is a file name in the app's `res/raw` without its suffix (newest
/// doc) or, in older docs, a path; pushway needs an app-resource URI. A URI passes as is.
fn android_sound(sound: &str, cx: &Context<'_>) -> Result<String, TimError> {
    if sound.starts_with("android.resource://") {
        return Ok(sound.to_owned());
    }
    let name = sound.rsplit('/').next().unwrap_or(sound);
    let name = name.split('.').next().unwrap_or(name);
    match cx.android_package {
        Some(package) if !name.is_empty() => Ok(format!("android.resource://{package}/raw/{name}")),
        _ => Err(TimError::new(
            BAD_REQUEST,
            "OfflinePushInfo.AndroidInfo.Sound: a sound name needs the app's Android package \
             ([apps.<app>.render] android_package)",
        )),
    }
}
