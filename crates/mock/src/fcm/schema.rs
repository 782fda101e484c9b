//! The fields of the v1 `Message` and their types (protocols/fcm.md §3, the discovery document
//! \[F2d\]), by their snake_case names; lowerCamelCase names are mapped onto them.

#[derive(Clone, Copy)]
pub(crate) enum Ty {
    Str,
    Bool,
    Int32,
    Float,
    /// `map<string,string>`.
    Map,
    Obj(&'static [(&'static str, Ty)]),
    /// A free-form JSON object (`apns.payload`, `webpush.notification`).
    Struct,
    Duration,
    /// An enum; `true`: case-insensitive (`android.priority`, §3).
    Enum(&'static str, &'static [&'static str], bool),
    StrList,
    DurationList,
}

const NOTIFICATION: &[(&str, Ty)] = &[("title", Ty::Str), ("body", Ty::Str), ("image", Ty::Str)];
const FCM_OPTIONS: &[(&str, Ty)] = &[("analytics_label", Ty::Str)];
const APNS_FCM_OPTIONS: &[(&str, Ty)] = &[("analytics_label", Ty::Str), ("image", Ty::Str)];
const WEBPUSH_FCM_OPTIONS: &[(&str, Ty)] = &[("link", Ty::Str), ("analytics_label", Ty::Str)];
const COLOR: &[(&str, Ty)] = &[
    ("red", Ty::Float),
    ("green", Ty::Float),
    ("blue", Ty::Float),
    ("alpha", Ty::Float),
];
const LIGHT_SETTINGS: &[(&str, Ty)] = &[
    ("color", Ty::Obj(COLOR)),
    ("light_on_duration", Ty::Duration),
    ("light_off_duration", Ty::Duration),
];
const ANDROID_NOTIFICATION: &[(&str, Ty)] = &[
    ("title", Ty::Str),
    ("body", Ty::Str),
    ("icon", Ty::Str),
    ("color", Ty::Str),
    ("sound", Ty::Str),
    ("tag", Ty::Str),
    ("click_action", Ty::Str),
    ("body_loc_key", Ty::Str),
    ("body_loc_args", Ty::StrList),
    ("title_loc_key", Ty::Str),
    ("title_loc_args", Ty::StrList),
    ("channel_id", Ty::Str),
    ("ticker", Ty::Str),
    ("sticky", Ty::Bool),
    ("event_time", Ty::Str),
    ("local_only", Ty::Bool),
    (
        "notification_priority",
        Ty::Enum(
            "NotificationPriority",
            &[
                "PRIORITY_UNSPECIFIED",
                "PRIORITY_MIN",
                "PRIORITY_LOW",
                "PRIORITY_DEFAULT",
                "PRIORITY_HIGH",
                "PRIORITY_MAX",
            ],
            false,
        ),
    ),
    ("default_sound", Ty::Bool),
    ("default_vibrate_timings", Ty::Bool),
    ("default_light_settings", Ty::Bool),
    ("vibrate_timings", Ty::DurationList),
    (
        "visibility",
        Ty::Enum(
            "Visibility",
            &["VISIBILITY_UNSPECIFIED", "PRIVATE", "PUBLIC", "SECRET"],
            false,
        ),
    ),
    ("notification_count", Ty::Int32),
    ("light_settings", Ty::Obj(LIGHT_SETTINGS)),
    ("image", Ty::Str),
    ("bypass_proxy_notification", Ty::Bool),
    (
        "proxy",
        Ty::Enum(
            "Proxy",
            &["PROXY_UNSPECIFIED", "ALLOW", "DENY", "IF_PRIORITY_LOWERED"],
            false,
        ),
    ),
];
const ANDROID: &[(&str, Ty)] = &[
    ("collapse_key", Ty::Str),
    (
        "priority",
        Ty::Enum("AndroidMessagePriority", &["NORMAL", "HIGH"], true),
    ),
    ("ttl", Ty::Duration),
    ("restricted_package_name", Ty::Str),
    ("data", Ty::Map),
    ("notification", Ty::Obj(ANDROID_NOTIFICATION)),
    ("fcm_options", Ty::Obj(FCM_OPTIONS)),
    ("direct_boot_ok", Ty::Bool),
    ("bandwidth_constrained_ok", Ty::Bool),
    ("restricted_satellite_ok", Ty::Bool),
];
const APNS: &[(&str, Ty)] = &[
    ("headers", Ty::Map),
    ("payload", Ty::Struct),
    ("fcm_options", Ty::Obj(APNS_FCM_OPTIONS)),
    ("live_activity_token", Ty::Str),
];
const WEBPUSH: &[(&str, Ty)] = &[
    ("headers", Ty::Map),
    ("data", Ty::Map),
    ("notification", Ty::Struct),
    ("fcm_options", Ty::Obj(WEBPUSH_FCM_OPTIONS)),
];
pub(crate) const MESSAGE: &[(&str, Ty)] = &[
    ("name", Ty::Str),
    ("data", Ty::Map),
    ("notification", Ty::Obj(NOTIFICATION)),
    ("android", Ty::Obj(ANDROID)),
    ("apns", Ty::Obj(APNS)),
    ("webpush", Ty::Obj(WEBPUSH)),
    ("fcm_options", Ty::Obj(FCM_OPTIONS)),
    ("token", Ty::Str),
    ("topic", Ty::Str),
    ("condition", Ty::Str),
    ("fid", Ty::Str),
];
pub(crate) const TARGETS: [&str; 4] = ["token", "topic", "condition", "fid"];
