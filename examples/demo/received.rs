//! What each vendor actually received, read back from the simulators and the daemon device,
//! and the table that shows it.

use pushway_mock::RecordedRequest;
use pushway_mock::apns::ApnsRequest;
use pushway_mock::fcm::FcmRequest;
use serde_json::Value;

/// One channel's line of the table.
pub struct Row {
    pub channel: &'static str,
    pub title: String,
    pub body: String,
    pub sound: String,
    pub badge: String,
    pub tap: String,
    pub app_data: String,
    pub outcome: String,
}

const NONE: &str = "—";
/// The title of a row whose vendor received nothing.
pub const NOTHING: &str = "(nothing received)";

fn text(value: &Value) -> String {
    match value {
        Value::Null => NONE.to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn missing(channel: &'static str, outcome: String) -> Row {
    Row {
        channel,
        title: NOTHING.to_owned(),
        body: String::new(),
        sound: String::new(),
        badge: String::new(),
        tap: String::new(),
        app_data: String::new(),
        outcome,
    }
}

/// APNs: `aps.alert.title/body`, `aps.sound`, `aps.badge`, app data as top-level keys.
pub fn apns(request: Option<&ApnsRequest>, outcome: String) -> Row {
    let Some(request) = request else {
        return missing("apns", outcome);
    };
    let body = request.request.json();
    let aps = &body["aps"];
    let mut app = body.clone();
    if let Some(map) = app.as_object_mut() {
        map.remove("aps");
    }
    Row {
        channel: "apns",
        title: text(&aps["alert"]["title"]),
        body: text(&aps["alert"]["body"]),
        sound: text(&aps["sound"]),
        badge: text(&aps["badge"]),
        tap: format!("thread-id {}", text(&aps["thread-id"])),
        app_data: app.to_string(),
        outcome,
    }
}

/// Xiaomi: the decoded form: `title`, `description`, `extra.sound_uri`, `extra.notify_effect`,
/// `payload`.
pub fn xiaomi(request: Option<&RecordedRequest>, outcome: String) -> Row {
    let Some(request) = request else {
        return missing("xiaomi", outcome);
    };
    let field = |name: &str| request.form_value(name).unwrap_or_else(|| NONE.to_owned());
    let effect = match field("extra.notify_effect").as_str() {
        "1" => "notify_effect 1 (open app)".to_owned(),
        "2" => "notify_effect 2 (intent_uri)".to_owned(),
        other => format!("notify_effect {other}"),
    };
    Row {
        channel: "xiaomi",
        title: field("title"),
        body: field("description"),
        sound: field("extra.sound_uri"),
        badge: "(MIUI counts)".to_owned(),
        tap: effect,
        app_data: field("payload"),
        outcome,
    }
}

/// Huawei: `message.android.notification`, `message.data`.
pub fn huawei(request: Option<&RecordedRequest>, outcome: String) -> Row {
    let Some(request) = request else {
        return missing("huawei", outcome);
    };
    let body = request.json();
    let notification = &body["message"]["android"]["notification"];
    let sound = if notification["default_sound"] == Value::Bool(true) {
        "default".to_owned()
    } else {
        text(&notification["sound"])
    };
    Row {
        channel: "huawei",
        title: text(&notification["title"]),
        body: text(&notification["body"]),
        sound,
        badge: text(&notification["badge"]),
        tap: format!(
            "click_action type {}",
            text(&notification["click_action"]["type"])
        ),
        app_data: text(&body["message"]["data"]),
        outcome,
    }
}

/// FCM: `message.android.notification`, `message.data`.
pub fn fcm(request: Option<&FcmRequest>, outcome: String) -> Row {
    let Some(request) = request else {
        return missing("fcm", outcome);
    };
    let body = request.json();
    let notification = &body["message"]["android"]["notification"];
    let sound = if notification["default_sound"] == Value::Bool(true) {
        "default".to_owned()
    } else {
        text(&notification["sound"])
    };
    let tap = match &notification["click_action"] {
        Value::Null => format!("tag {} (opens the app)", text(&notification["tag"])),
        action => format!(
            "tag {}, click_action {}",
            text(&notification["tag"]),
            text(action)
        ),
    };
    Row {
        channel: "fcm",
        title: text(&notification["title"]),
        body: text(&notification["body"]),
        sound,
        badge: text(&notification["notification_count"]),
        tap,
        app_data: text(&body["message"]["data"]),
        outcome,
    }
}

/// The daemon device: the notification as the phone's daemon process received it.
pub fn daemon(push: Option<&pushway::daemon::client::Push>, outcome: String) -> Row {
    let Some(push) = push else {
        return missing("daemon", outcome);
    };
    let n = &push.notification;
    Row {
        channel: "daemon",
        title: n.android_title().to_owned(),
        body: n.body.clone(),
        sound: n
            .android_sound
            .as_ref()
            .map_or("default".to_owned(), |s| s.uri().to_owned()),
        badge: n.badge.map_or(NONE.to_owned(), |b| b.to_string()),
        tap: format!("{:?}", n.notify_mode).to_lowercase(),
        app_data: n.app_data.to_json(),
        outcome,
    }
}

/// Prints the rows as a table, one block per channel (app data is too wide for one line).
pub fn print_table(rows: &[Row]) {
    println!(
        "   {:<7} │ {:<24} │ {:<44} │ {:<13} │ outcome",
        "channel", "title", "body", "badge"
    );
    println!("   {}", "─".repeat(115));
    for row in rows {
        println!(
            "   {:<7} │ {} │ {} │ {:<13} │ {}",
            row.channel,
            pad(&row.title, 24),
            pad(&row.body, 44),
            row.badge,
            row.outcome
        );
        println!("   {:<7} │   sound {}   tap {}", "", row.sound, row.tap);
        println!("   {:<7} │   app data {}", "", row.app_data);
    }
}

/// Pads to a display width, counting CJK characters as two columns.
fn pad(text: &str, width: usize) -> String {
    let shown: usize = text
        .chars()
        .map(|c| if c as u32 >= 0x1100 { 2 } else { 1 })
        .sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(shown)))
}
