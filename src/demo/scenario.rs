//! The demo's story, as data: the users and their devices, their push settings and logins, the
//! messages an IM back end sends, and for each message what the demo expects — every
//! recipient's outcome and every field each vendor or daemon device receives.

use pushway::gateway::simulate::DEMO_CLICK_ACTION;
use serde_json::{Value, json};

/// A device an IM back end registers.
pub(super) struct DeviceSpec {
    pub(super) user: &'static str,
    pub(super) device: &'static str,
    /// `apns`, `xiaomi`, `huawei`, `fcm` or `daemon`.
    pub(super) kind: &'static str,
    /// `production` or `sandbox`, for APNs.
    pub(super) apns_env: Option<&'static str>,
    /// The vendor token; none for a daemon device (the gateway sets it, `<user>/<device>`).
    pub(super) token: &'static str,
}

const fn device(
    user: &'static str,
    device: &'static str,
    kind: &'static str,
    apns_env: Option<&'static str>,
    token: &'static str,
) -> DeviceSpec {
    DeviceSpec {
        user,
        device,
        kind,
        apns_env,
        token,
    }
}

/// Every device of the story: alice sends; bob has an iPhone and a Xiaomi phone; carol a Huawei
/// phone, an iPhone, a Pixel (FCM) and an old Xiaomi phone she logged out of; dave turned pushes off; erin was
/// kicked offline; frank has no device at all; grace's Android phone and tablet have no vendor
/// push, so they use the daemon channel: the phone is connected, the tablet is off.
pub(super) const DEVICES: &[DeviceSpec] = &[
    device(
        "alice",
        "iphone",
        "apns",
        Some("sandbox"),
        "5b1f0c9e7d3a4b2c8e6f10a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9",
    ),
    device(
        "bob",
        "iphone",
        "apns",
        Some("sandbox"),
        "8f3a9c2d1e4b5a6978c0d1e2f3a4b5c6d7e8f90112233445566778899aabbccd",
    ),
    device("bob", "mi", "xiaomi", None, "mi-regid-bob-4f2a"),
    device("carol", "mate", "huawei", None, "IQAAAACy0carolMate60"),
    device(
        "carol",
        "iphone",
        "apns",
        Some("production"),
        "c4a7e1f0b9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2",
    ),
    device(
        "carol",
        "pixel",
        "fcm",
        None,
        "fKx3dR9bQ0y:APA91bH-carol-pixel8",
    ),
    device("carol", "old-mi", "xiaomi", None, "mi-regid-carol-old"),
    device("dave", "mi", "xiaomi", None, "mi-regid-dave-77c1"),
    device("erin", "mate", "huawei", None, "IQAAAACy0erinMate40"),
    device("grace", "phone", "daemon", None, ""),
    device("grace", "tablet", "daemon", None, ""),
];

/// The daemon devices connected (a WebSocket client of the gateway's daemon endpoint, which
/// receives and acks) from the start, as `(user, device)`; the others connect only when a step
/// says so ([`Step::reconnect`]).
pub(super) const ONLINE_DAEMONS: &[(&str, &str)] = &[("grace", "phone")];

const SOUNDS: &str = "android.resource://com.example.chat/raw/";

/// The users' own push settings (the seed's `TIMOfflinePushSettings`), as `PUT .../settings`.
pub(super) fn settings() -> Vec<(&'static str, Value)> {
    vec![
        (
            "bob",
            json!({"enabled": true, "c2c_sound": format!("{SOUNDS}bob_c2c"),
                   "group_sound": format!("{SOUNDS}bob_group")}),
        ),
        (
            "carol",
            json!({"c2c_sound": format!("{SOUNDS}carol_c2c"),
                   "group_sound": format!("{SOUNDS}carol_group")}),
        ),
        ("dave", json!({"enabled": false})),
    ]
}

/// Login changes: (user, device, `logout` or `kicked`).
pub(super) const LOGINS: &[(&str, &str, &str)] =
    &[("carol", "old-mi", "logout"), ("erin", "mate", "kicked")];

/// What one device's vendor should receive: (vendor, `user/device`, the fields that matter);
/// the vendor `daemon` for a daemon device.
pub(super) type Sent = (&'static str, &'static str, Vec<(&'static str, Value)>);

/// Expected outcomes: (`user` or `user/device`, outcome): a delivery's state,
/// `suppressed: <reason>` for a recipient, `left out: <reason>` for one device.
pub(super) type Outcomes = Vec<(&'static str, String)>;

/// A daemon device that was offline when the message was sent (so its delivery is `queued`)
/// and connects after it.
pub(super) struct Reconnect {
    pub(super) user: &'static str,
    pub(super) device: &'static str,
    /// What it receives once connected: the queued push.
    pub(super) received: Sent,
    /// The message's outcomes after its ack.
    pub(super) outcomes: Outcomes,
}

/// One message and what it should give.
pub(super) struct Step {
    /// What the step shows.
    pub(super) title: &'static str,
    /// Its `Idempotency-Key`.
    pub(super) key: &'static str,
    /// The `POST /messages` body.
    pub(super) body: Value,
    /// Every recipient's outcome.
    pub(super) outcomes: Outcomes,
    /// (vendor, `user/device`, fields) for every device a vendor receives this message for.
    pub(super) received: Vec<Sent>,
    /// An offline daemon device that connects after the message.
    pub(super) reconnect: Option<Reconnect>,
}

fn c2c(to: &str, text: &str) -> Value {
    json!({
        "conversation": {"type": "c2c", "peer": to},
        "sender": {"user_id": "alice", "nickname": "Ann"},
        "elements": [{"type": "text", "text": text}]
    })
}

fn to(user: &str, unread: u32) -> Value {
    json!({"user_id": user, "unread": unread})
}

fn delivered(devices: &[&'static str]) -> Outcomes {
    devices
        .iter()
        .map(|d| (*d, "delivered".to_owned()))
        .collect()
}

/// The messages, in order.
pub(super) fn steps() -> Vec<Step> {
    let hello = "Are we still on for 7?";
    let rope = "Rope check at 6, bring the 60 m";
    let photo = "Photo from the crag";
    let gym = "Climbing gym at 8? Bring chalk";
    let intent = "intent://open#Intent;scheme=pushway;launchFlags=0x4000000;\
                  S.conversation_id=alice;S.conversation_type=c2c;S.sender_id=alice;\
                  S.ext=photo-981;end";
    let mut group_outcomes = delivered(&[
        "bob/iphone",
        "bob/mi",
        "carol/mate",
        "carol/iphone",
        "carol/pixel",
    ]);
    group_outcomes.extend([
        ("carol/old-mi", "left out: recipient_logged_out".to_owned()),
        ("dave", "suppressed: recipient_disabled".to_owned()),
        ("erin/mate", "left out: recipient_kicked_offline".to_owned()),
        ("frank", "suppressed: no_devices".to_owned()),
        ("alice", "suppressed: recipient_is_sender".to_owned()),
    ]);
    let mut system = c2c("bob", "alice added you to Climbers");
    system["kind"] = json!("system");
    let mut custom = c2c("carol", photo);
    // Per-message settings (the seed's TIMMessageOfflinePushSettings) over carol's own: the
    // Android title, the sound on both platforms, a tap that hands the app `ext` (on Xiaomi it
    // opens the credential's `custom_activity`; carol's Xiaomi phone is logged out here).
    custom["push"] = json!({
        "ext": "photo-981",
        "android": {"title": "Ann sent a photo", "sound": format!("{SOUNDS}shutter"),
                    "notify_mode": "custom"},
        "ios": {"sound": {"file": "shutter.caf"}}
    });
    vec![
        Step {
            title: "C2C message alice → bob (bob's own C2C sound on Android)",
            key: "demo-1",
            body: json!({"message": c2c("bob", hello), "recipients": [to("bob", 2)]}),
            outcomes: delivered(&["bob/iphone", "bob/mi"]),
            received: vec![
                (
                    "apns",
                    "bob/iphone",
                    vec![
                        ("title", json!("alice")),
                        ("body", json!(hello)),
                        ("sound", json!("default")),
                        ("badge", json!(2)),
                        ("thread-id", json!("alice")),
                    ],
                ),
                (
                    "xiaomi",
                    "bob/mi",
                    vec![
                        ("title", json!("alice")),
                        ("description", json!(hello)),
                        ("notify_effect", json!("1")),
                        ("sound_uri", json!(format!("{SOUNDS}bob_c2c"))),
                    ],
                ),
            ],
            reconnect: None,
        },
        Step {
            title: "group message in Climbers, alice shown by her name card",
            key: "demo-2",
            body: json!({
                "message": {
                    "conversation": {"type": "group", "id": "g-climbers", "name": "Climbers"},
                    "sender": {"user_id": "alice", "nickname": "Ann", "name_card": "Ann (belayer)"},
                    "elements": [{"type": "text", "text": rope}]
                },
                "recipients": [to("bob", 5), to("carol", 1), to("dave", 1), to("erin", 1),
                               to("frank", 1), to("alice", 0)]
            }),
            outcomes: group_outcomes,
            reconnect: None,
            received: {
                let body = format!("Ann (belayer): {rope}");
                let apns = |badge: u32| {
                    vec![
                        ("title", json!("Climbers")),
                        ("body", json!(body)),
                        ("sound", json!("default")),
                        ("badge", json!(badge)),
                        ("thread-id", json!("g-climbers")),
                    ]
                };
                vec![
                    ("apns", "bob/iphone", apns(5)),
                    ("apns", "carol/iphone", apns(1)),
                    (
                        "xiaomi",
                        "bob/mi",
                        vec![
                            ("title", json!("Climbers")),
                            ("description", json!(body)),
                            ("notify_effect", json!("1")),
                            ("sound_uri", json!(format!("{SOUNDS}bob_group"))),
                        ],
                    ),
                    (
                        "huawei",
                        "carol/mate",
                        vec![
                            ("title", json!("Climbers")),
                            ("body", json!(body)),
                            ("sound", json!("/raw/carol_group")),
                            ("click_action", json!({"type": 3})),
                        ],
                    ),
                    (
                        "fcm",
                        "carol/pixel",
                        vec![
                            ("title", json!("Climbers")),
                            ("body", json!(body)),
                            ("sound", json!("carol_group")),
                            ("notification_count", json!(1)),
                            ("tag", json!("group:g-climbers")),
                        ],
                    ),
                ]
            },
        },
        Step {
            title: "per-message settings over carol's own: title, sound, custom notify mode + ext",
            key: "demo-3",
            body: json!({"message": custom, "recipients": [to("carol", 3)]}),
            outcomes: {
                let mut o = delivered(&["carol/mate", "carol/iphone", "carol/pixel"]);
                o.push(("carol/old-mi", "left out: recipient_logged_out".to_owned()));
                o
            },
            received: vec![
                (
                    "apns",
                    "carol/iphone",
                    vec![
                        // iOS keeps the default title: the per-message title is Android's.
                        ("title", json!("alice")),
                        ("body", json!(photo)),
                        ("sound", json!("shutter.caf")),
                        ("badge", json!(3)),
                        ("thread-id", json!("alice")),
                        ("ext", json!("photo-981")),
                    ],
                ),
                (
                    "huawei",
                    "carol/mate",
                    vec![
                        ("title", json!("Ann sent a photo")),
                        ("body", json!(photo)),
                        ("sound", json!("/raw/shutter")),
                        ("click_action", json!({"type": 1, "intent": intent})),
                    ],
                ),
                (
                    "fcm",
                    "carol/pixel",
                    vec![
                        ("title", json!("Ann sent a photo")),
                        ("body", json!(photo)),
                        ("sound", json!("shutter")),
                        ("notification_count", json!(3)),
                        ("tag", json!("c2c:alice")),
                        // The tap opens the credential's intent-filter action; the app data
                        // (with `ext`) arrives as the intent's extras.
                        ("click_action", json!(DEMO_CLICK_ACTION)),
                        ("ext", json!("photo-981")),
                    ],
                ),
            ],
            reconnect: None,
        },
        Step {
            title: "system message alice → bob (never pushed)",
            key: "demo-4",
            body: json!({"message": system, "recipients": [to("bob", 6)]}),
            outcomes: vec![("bob", "suppressed: system_message".to_owned())],
            received: vec![],
            reconnect: None,
        },
        Step {
            title: "C2C message alice → dave, who turned offline pushes off",
            key: "demo-5",
            body: json!({"message": c2c("dave", "Coming climbing?"), "recipients": [to("dave", 1)]}),
            outcomes: vec![("dave", "suppressed: recipient_disabled".to_owned())],
            received: vec![],
            reconnect: None,
        },
        Step {
            title: "C2C message alice → grace: the daemon channel (her phone connected, her tablet off)",
            key: "demo-6",
            body: json!({"message": c2c("grace", gym), "recipients": [to("grace", 4)]}),
            outcomes: vec![
                ("grace/phone", "delivered".to_owned()),
                ("grace/tablet", "queued".to_owned()),
            ],
            received: vec![("daemon", "grace/phone", daemon_fields(gym, 4))],
            reconnect: Some(Reconnect {
                user: "grace",
                device: "tablet",
                received: ("daemon", "grace/tablet", daemon_fields(gym, 4)),
                outcomes: delivered(&["grace/phone", "grace/tablet"]),
            }),
        },
    ]
}

/// What a daemon device shows for a C2C message from alice with `text` and `unread`.
fn daemon_fields(text: &str, unread: u32) -> Vec<(&'static str, Value)> {
    vec![
        ("title", json!("alice")),
        ("body", json!(text)),
        ("badge", json!(unread)),
        ("conversation_id", json!("alice")),
    ]
}
