//! TIM REST ingest (issue 17): Tencent IM's server API bodies, accepted as they are and sent
//! through the same accept path and outbox as `POST /v1/apps/{app}/messages`. A team migrating
//! from Tencent points its server calls at `<base>/v1/apps/<app>/tim` (the URL's
//! `/v4/<service>/<command>` and query kept) and adds `Authorization: Bearer <API key>`:
//!
//! | route (`POST`, under `/v1/apps/{app}/tim`) | body (tim.md) | answer's extra fields |
//! |---|---|---|
//! | `/v4/openim/sendmsg` | §1.1, `To_Account` a string | `MsgTime`, `Pushway_MessageId` |
//! | `/v4/openim/batchsendmsg` | §1.1, `To_Account` 1–500 ids | `MsgTime`, `Pushway_MessageId` |
//! | `/v4/group_open_http_svc/send_group_msg` | §1.2 + `Pushway_Members` | `MsgTime`, `Pushway_MessageId` |
//! | `/v4/timpush/batch` | §9.1 | `TaskId` (the message id) |
//!
//! Answers are TIM's: HTTP 200 with `ActionStatus`, `ErrorCode`, `ErrorInfo` (codes in
//! [`error`]); a refused request stores nothing. pushway's own failures (a missing or wrong API
//! key, overload, the store) answer as the rest of the API does (problem+json). The query's
//! `sdkappid`, `usersig`, `random` and `contenttype` are Tencent's routing and signature:
//! pushway's API key replaces them, so they are not read; `identifier` (the calling admin) is
//! the sender when the body has no `From_Account`.
//!
//! Mapping (tim.md §2–§3): elements to pushway's elements (custom: `Desc` shown, `Data` never,
//! `Ext`/`Sound` unless `OfflinePushInfo` is present); `OfflinePushInfo.PushFlag` 1 → the
//! message's `enabled` false; `Title` → every platform's title, `ApnsInfo.Title`/`SubTitle` → the
//! iOS overrides; `Desc` → `descr`; `Ext` → `ext`; `AndroidInfo.Sound` (a `res/raw` name) → an
//! app-resource URI (needs `[apps.<app>.render] android_package`); `ApnsInfo.Sound` → the iOS
//! sound (`push.no_sound` = none); `MsgLifeTime` 0 / `OnlineOnlyFlag` → online only;
//! `SendMsgControl` without `WithMuteNotifications` → the recipient's C2C mute is ignored;
//! `GroupAtInfo` → mentions. The badge is never set (TIM counts it from what its SDK reports,
//! tim.md §6). Fields that only concern the IM server (`MsgSeq`, `MsgTimeStamp`,
//! `SyncOtherMachine`, `CloudCustomData`, `ForbidCallbackControl`, `IsNeedReadReceipt`,
//! `SupportMessageExtension`, `MsgPriority`, `NoUnread`, `NoLastMsg`, `DataId`) are checked and
//! have no effect; any other field is refused by name.

mod body;
mod convert;
pub mod error;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use self::convert::{Context, Converted};
use self::error::{BAD_MSG_BODY, BAD_REQUEST, MAX_MESSAGE_BYTES, TimError};
use crate::api::{AppState, Problem};
use crate::service::{MessageRequest, ServiceError};

/// The TIM commands pushway takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    SendMsg,
    BatchSendMsg,
    SendGroupMsg,
    PushBatch,
}

impl Command {
    fn parse(service: &str, command: &str) -> Option<Command> {
        match (service, command) {
            ("openim", "sendmsg") => Some(Command::SendMsg),
            ("openim", "batchsendmsg") => Some(Command::BatchSendMsg),
            ("group_open_http_svc", "send_group_msg") => Some(Command::SendGroupMsg),
            ("timpush", "batch") => Some(Command::PushBatch),
            _ => None,
        }
    }

    /// The name of the field that lists recipients, for errors about them.
    fn recipients_field(self) -> &'static str {
        match self {
            Command::SendGroupMsg => "Pushway_Members",
            _ => "To_Account",
        }
    }
}

/// `POST /v1/apps/{app}/tim/v4/{service}/{command}`.
pub(crate) async fn ingest(
    State(state): State<AppState>,
    Path((app, service, command)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(problem) = state.authorize(&headers, &app) {
        return problem.into_response();
    }
    let Some(command) = Command::parse(&service, &command) else {
        return Problem::new(StatusCode::NOT_FOUND, "not-found", "No such TIM command")
            .detail("pushway takes openim/sendmsg, openim/batchsendmsg, group_open_http_svc/send_group_msg and timpush/batch")
            .into_response();
    };
    let mut identifier = None;
    for (name, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match &*name {
            "identifier" => identifier = Some(value.into_owned()),
            "sdkappid" | "usersig" | "random" | "contenttype" => {}
            other => {
                let info = format!("query parameter {other:?} is not supported by pushway");
                return reply(TimError::new(BAD_REQUEST, info).envelope());
            }
        }
    }
    let renderer_package = state
        .service
        .app(&app)
        .ok()
        .and_then(|a| a.renderer.package().map(str::to_owned));
    let cx = Context {
        identifier: identifier.as_deref(),
        android_package: renderer_package.as_deref(),
    };
    let converted = match convert(command, &body, &cx) {
        Ok(converted) => converted,
        Err(e) => return reply(e.envelope()),
    };
    let request = MessageRequest {
        message: converted.message,
        recipients: converted.recipients,
    };
    match state
        .service
        .accept(&app, &converted.key, &body, request)
        .await
    {
        Ok(accepted) => {
            let time = state.service.clock.now_ms() / 1000;
            reply(error::ok(match command {
                Command::PushBatch => json!({"TaskId": accepted.message_id}),
                _ => json!({"MsgTime": time, "Pushway_MessageId": accepted.message_id}),
            }))
        }
        Err(ServiceError::Invalid { field, message }) => {
            let field = field.replacen("recipients", command.recipients_field(), 1);
            let field = field.replace("].user_id", "]");
            reply(TimError::new(BAD_REQUEST, format!("{field}: {message}")).envelope())
        }
        Err(ServiceError::IdempotencyKeyReused) => reply(
            TimError::new(
                BAD_REQUEST,
                "MsgRandom: already used by another request from this sender to these recipients",
            )
            .envelope(),
        ),
        Err(other) => Problem::from(other).into_response(),
    }
}

fn reply(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

/// The body, checked and converted.
fn convert(command: Command, raw: &[u8], cx: &Context<'_>) -> Result<Converted, TimError> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|e| TimError::new(BAD_REQUEST, format!("invalid JSON: {e}")))?;
    if !value.is_object() {
        return Err(TimError::new(BAD_REQUEST, "the body must be a JSON object"));
    }
    if let Some(msg_body) = value.get("MsgBody") {
        let size = msg_body.to_string().len();
        if size > MAX_MESSAGE_BYTES {
            let code = match command {
                Command::SendGroupMsg => error::GROUP_TOO_LONG,
                _ => error::C2C_TOO_LONG,
            };
            return Err(TimError::new(
                code,
                format!("MsgBody: {size} bytes, at most {MAX_MESSAGE_BYTES}"),
            ));
        }
    }
    match command {
        Command::SendMsg => convert::c2c(typed(value)?, false, cx),
        Command::BatchSendMsg => convert::c2c(typed(value)?, true, cx),
        Command::SendGroupMsg => convert::group(typed(value)?, cx),
        Command::PushBatch => convert::push(typed(value)?, cx),
    }
}

/// `value` as `T`; an error names the field (`MsgBody` errors get `MsgBody`'s code).
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, TimError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        let code = if path.starts_with("MsgBody") {
            BAD_MSG_BODY
        } else {
            BAD_REQUEST
        };
        let note = if message.starts_with("unknown field") || message.starts_with("unknown variant")
        {
            " (not supported by pushway)"
        } else {
            ""
        };
        TimError::new(code, format!("{path}: {message}{note}"))
    })
}
