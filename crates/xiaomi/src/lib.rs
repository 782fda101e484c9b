//! pushway's Xiaomi MiPush channel: batched regid sends, form encoding as Xiaomi decodes it,
//! and every code mapped to pushway's outcomes.
//!
//! [`XiaomiProvider`] implements [`PushProvider`](pushway_core::PushProvider): one
//! `POST /v3/message/regid` per batch of up to [`MAX_BATCH_SIZE`] regids, authenticated with
//! `Authorization: key=<AppSecret>`. The crate is sans-IO at its core: a pure request builder
//! ([`XiaomiProvider::build_request`]), a pure classifier ([`classify()`] + [`Verdict::outcomes`]),
//! and a thin `reqwest` transport between them (every call bounded by a timeout).
//!
//! | module | what |
//! |---|---|
//! | [`config`] | [`XiaomiProviderBuilder`], [`Region`] hosts, [`Template`] |
//! | [`request`] | the form fields (below), limits as constants |
//! | [`codes`] | [`XiaomiCode`], every known code, and its [`CodeClass`] |
//! | [`classify`](mod@classify) | answer → [`Verdict`] → one [`Outcome`](pushway_core::Outcome) per regid |
//! | [`receipt`] | parsing receipt callbacks, dead regids from type-16 receipts |
//!
//! # Request
//!
//! | form field | value |
//! |---|---|
//! | `restricted_package_name` | the configured package |
//! | `registration_id` | the batch's regids joined with `,` (encoded once: `+`→`%2B`, `/`→`%2F`, `=`→`%3D`, `,`→`%2C`) |
//! | `pass_through` | `0` (notification bar) |
//! | `notify_type` | `-1` (sound, vibration, light); with a custom sound too, since the client SDK plays `sound_uri` only when bit 1 is set |
//! | `notify_id` | [`request::notify_id`]: a hash of the conversation, so one chat's pushes replace each other |
//! | `title` | `Notification::android_title()`, cut to [`request::TITLE_MAX_UTF16`] UTF-16 units with `…` |
//! | `description` | the body, cut to [`request::DESCRIPTION_MAX_UTF16`] UTF-16 units with `…` |
//! | `payload` | `Notification::app_data.to_json()`, as is (not pre-encoded, like the official SDK) |
//! | `time_to_live` | the notification's TTL in milliseconds, when set |
//! | `extra.channel_id` | the configured channel |
//! | `extra.notify_effect` | `1` (open the app) for `NotifyMode::Normal`; `2` for `Custom` |
//! | `extra.intent_uri` | `Custom` only: `intent:#Intent;component=<pkg>/<activity>;S.<app-data key>=<value>;…;end` |
//! | `extra.sound_uri` | the custom Android sound as is (`android.resource://<pkg>/raw/<name>` or `android.resource://<pkg>/<id>`), when set |
//! | `extra.template_id`, `extra.template_param` | the configured [`Template`], when set |
//! | `extra.callback`, `extra.callback.param`, `extra.callback.type` | the receipt URL, the message id, the receipt types; when a receipt URL is set |
//!
//! # Classification
//!
//! By the JSON `code` whatever the HTTP status; by the status only when there is none:
//!
//! | answer | outcome |
//! |---|---|
//! | `0` | `Delivered { vendor_id: data.id }`, except regids in `data.bad_regids`: `InvalidToken` (`bad_regid`) |
//! | `20301` "No valid targets!" | `InvalidToken` for every regid, unless the safeguard says `Misconfigured` (below) |
//! | `21301`, `21302`, `22000`–`22099`, `10005`, `10006`, `10026`, `10031`, … | `Auth` |
//! | rate limits `10022`–`10024`, `10027`, `10028`, `26004`, `200002`, … | `Retry { after: 1 s }` |
//! | quota `200001`, `10034` | `Retry` with the quota code: [`XiaomiCode::is_quota_exhausted`] tells it from a rate limit |
//! | server errors `-1`, `1`, `10001`–`10003`, `22102`, `26003`, … | `Retry` |
//! | `27001`, `10016`, `10017`, `65011`, other parameter codes | `Rejected` with the code |
//! | any other code | `Unknown` with the code (kept, not retried) |
//! | no JSON code: 401/403 | `Auth` |
//! | no JSON code: 408, 429, 5xx; 2xx with an empty or HTML body | `Retry` |
//! | no JSON code: other 4xx | `Rejected` |
//! | timeout, connection error | `Retry` (`timeout` / `connection`) |
//!
//! Every reason code is the Xiaomi code as text (`"20301"`), with Xiaomi's text and trace id as
//! the detail.
//!
//! # The misconfiguration safeguard
//!
//! A wrong package name or a wrong regional host makes Xiaomi answer 20301 "No valid targets!"
//! for every regid, valid or not; an embedder that deleted the tokens on such answers would lose
//! the app's whole Xiaomi audience. So **when a whole batch comes back invalid (20301, or a
//! success listing every regid in `bad_regids`), its regids get [`Outcome::Misconfigured`]
//! (keep the tokens, alert an operator) instead of `InvalidToken` when the batch has at least
//! [`DEFAULT_MISCONFIGURED_MIN_BATCH`] regids, or when [`DEFAULT_MISCONFIGURED_STREAK`]
//! whole-batch refusals came in a row with no successful send in between.** Smaller batches
//! refused outside such a streak give `InvalidToken` (a dead regid of a one-device recipient is
//! the common case). Both numbers are set with
//! [`XiaomiProviderBuilder::misconfiguration_safeguard`]. A success resets the streak.
//!
//! [`Outcome::Misconfigured`]: pushway_core::Outcome::Misconfigured
//!
//! # Dead regids
//!
//! Xiaomi's invalid-regid feedback endpoint is retired, so it is not implemented: dead regids
//! come from `data.bad_regids`, from 20301 (under the safeguard) and, optionally, from receipts
//! of type 16 posted to the configured callback URL ([`receipt::dead_regids`]).
//!
//! # Connections
//!
//! The protocol notes (protocols/xiaomi.md) show MiPush's requests as HTTP/1.1 and document no
//! HTTP/2 on Xiaomi's hosts; the official Java SDK offers both `h2` and `http/1.1` by ALPN
//! (SDK-J `OkHttp3Client`) and so keeps HTTP/1.1 working, and a VIP host or proxy may be
//! HTTP/1.1 only. So HTTP/2 is not forced. Over HTTP/1.1 a connection carries one request at a
//! time, and the pool opens a connection for every send it has no idle one for: a burst of 500
//! sends opened 129 against the simulator. Each provider therefore lets at most
//! [`max_connections`](XiaomiProviderBuilder::max_connections) requests
//! ([`DEFAULT_MAX_CONNECTIONS`](config::DEFAULT_MAX_CONNECTIONS), 64) be in flight and keeps at
//! most as many idle connections; further sends wait for a free one (each request is bounded by
//! the timeout, so the wait is too). The same burst then opens exactly that many. On a
//! multi-threaded runtime a connection still being handed back to the pool when the next request
//! starts can make the pool open one more (8 or 9 for a bound of 8); idle ones beyond the bound
//! are closed. Should a host negotiate HTTP/2, the bound holds as well.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), pushway_core::Error> {
//! use std::sync::Arc;
//! use pushway_core::{ChannelKey, DeviceToken, Router, TokenKind};
//! use pushway_xiaomi::{Region, XiaomiProvider};
//!
//! let xiaomi = XiaomiProvider::builder()
//!     .app_secret(std::env::var("XIAOMI_APP_SECRET").unwrap_or_default())
//!     .package("com.example.chat")
//!     .channel_id("108790")
//!     .region(Region::Mainland)
//!     .custom_activity(".ui.ChatActivity")
//!     .build()?;
//! let mut router = Router::new();
//! router.register(ChannelKey::new(TokenKind::Xiaomi, "chat"), Arc::new(xiaomi));
//! let devices = [DeviceToken::new(TokenKind::Xiaomi, "chat", "ab+cd/ef==")];
//! let report = router.dispatch(&pushway_core::testing::sample_notification(), &devices).await;
//! println!("{:?}", report.counts());
//! # Ok(())
//! # }
//! ```

pub mod classify;
pub mod codes;
pub mod config;
mod provider;
pub mod receipt;
pub mod request;

pub use classify::{Safeguard, Verdict, classify};
pub use codes::{CodeClass, XiaomiCode};
pub use config::{Region, Template, XiaomiProviderBuilder};
pub use provider::{MAX_BATCH_SIZE, XiaomiProvider};
pub use request::XiaomiRequest;

/// Default smallest batch whose complete refusal is read as a configuration fault.
pub const DEFAULT_MISCONFIGURED_MIN_BATCH: usize = 10;
/// Default number of whole-batch refusals in a row (no success between) after which even small
/// batches' refusals are read as a configuration fault.
pub const DEFAULT_MISCONFIGURED_STREAK: u32 = 10;
