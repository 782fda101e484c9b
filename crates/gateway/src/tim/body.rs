//! The TIM REST request bodies pushway reads (tim.md §1.1, §1.2, §2, §3, §9.1), field names as
//! Tencent spells them. Every struct denies unknown fields, so a field pushway does not support
//! is an error naming it, never silently ignored. Fields that only concern the IM server
//! (storage, unread counters, callbacks, read receipts) are read and checked for type, and have
//! no effect on the push: pushway is not the IM server.

#![allow(
    dead_code,
    reason = "IM-server-only fields are read to check their types and documented, never used"
)]

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{BAD_MSG_BODY, TimError};

/// `To_Account`: one user id (`sendmsg`) or a list (`batchsendmsg`, `timpush/batch`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Accounts {
    One(String),
    Many(Vec<String>),
}

/// `v4/openim/sendmsg` and `v4/openim/batchsendmsg` (tim.md §1.1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct C2cBody {
    pub SyncOtherMachine: Option<u8>,
    pub From_Account: Option<String>,
    pub To_Account: Option<Accounts>,
    pub MsgSeq: Option<u32>,
    pub MsgRandom: Option<u32>,
    pub MsgTimeStamp: Option<u64>,
    pub MsgLifeTime: Option<u32>,
    pub MsgBody: Option<Vec<RawElement>>,
    pub CloudCustomData: Option<String>,
    pub OfflinePushInfo: Option<OfflinePushInfo>,
    pub SendMsgControl: Option<Vec<String>>,
    pub ForbidCallbackControl: Option<Vec<String>>,
    pub IsNeedReadReceipt: Option<u8>,
    pub SupportMessageExtension: Option<u8>,
}

/// `v4/group_open_http_svc/send_group_msg` (tim.md §1.2), plus `Pushway_Members`: the members
/// to push to, which TIM's server knows and pushway does not.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct GroupBody {
    pub GroupId: Option<String>,
    pub Random: Option<u32>,
    pub MsgPriority: Option<String>,
    pub From_Account: Option<String>,
    pub MsgBody: Option<Vec<RawElement>>,
    pub OfflinePushInfo: Option<OfflinePushInfo>,
    pub ForbidCallbackControl: Option<Vec<String>>,
    pub OnlineOnlyFlag: Option<u8>,
    pub SendMsgControl: Option<Vec<String>>,
    pub GroupAtInfo: Option<Vec<GroupAt>>,
    pub CloudCustomData: Option<String>,
    pub Pushway_Members: Option<Vec<String>>,
}

/// One `GroupAtInfo` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct GroupAt {
    pub GroupAtAllFlag: Option<u8>,
    pub GroupAt_Account: Option<String>,
}

/// `v4/timpush/batch` (tim.md §9.1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct PushBody {
    pub From_Account: Option<String>,
    pub To_Account: Option<Accounts>,
    pub MsgRandom: Option<u32>,
    pub OfflinePushInfo: Option<OfflinePushInfo>,
    pub DataId: Option<String>,
}

/// One `MsgBody` entry as sent: its type, and its content read by [`RawElement::parse`] so
/// that an error names the content's field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct RawElement {
    pub MsgType: String,
    pub MsgContent: Value,
}

/// The element types pushway takes.
const TYPES: &str = "TIMTextElem, TIMLocationElem, TIMFaceElem, TIMCustomElem, TIMSoundElem, \
                     TIMImageElem, TIMFileElem, TIMVideoFileElem";

impl RawElement {
    /// The element, or a `MsgBody` error naming the field (`i` is its index).
    pub(super) fn parse(self, i: usize) -> Result<Element, TimError> {
        fn content<T: DeserializeOwned>(value: Value, i: usize) -> Result<T, TimError> {
            serde_path_to_error::deserialize(value).map_err(|e| {
                let path = e.path().to_string();
                let at = if path == "." {
                    format!("MsgBody[{i}].MsgContent")
                } else {
                    format!("MsgBody[{i}].MsgContent.{path}")
                };
                let message = e.into_inner().to_string();
                let note = if message.starts_with("unknown field") {
                    " (not supported by pushway)"
                } else {
                    ""
                };
                TimError::new(BAD_MSG_BODY, format!("{at}: {message}{note}"))
            })
        }
        let value = self.MsgContent;
        Ok(match self.MsgType.as_str() {
            "TIMTextElem" => Element::Text(content(value, i)?),
            "TIMLocationElem" => Element::Location(content(value, i)?),
            "TIMFaceElem" => Element::Face(content(value, i)?),
            "TIMCustomElem" => Element::Custom(content(value, i)?),
            "TIMSoundElem" => Element::Sound(content(value, i)?),
            "TIMImageElem" => Element::Image(content(value, i)?),
            "TIMFileElem" => Element::File(content(value, i)?),
            "TIMVideoFileElem" => Element::Video(content(value, i)?),
            other => {
                return Err(TimError::new(
                    BAD_MSG_BODY,
                    format!(
                        "MsgBody[{i}].MsgType: {other:?} is not supported by pushway (one of {TYPES})"
                    ),
                ));
            }
        })
    }
}

/// One `MsgBody` element (tim.md §2). `TIMRelayElem` and other types are refused.
#[derive(Debug)]
pub(super) enum Element {
    Text(Text),
    Location(Location),
    Face(Face),
    Custom(Custom),
    Sound(Sound),
    Image(Image),
    File(File),
    Video(Video),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct Text {
    pub Text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct Location {
    pub Desc: Option<String>,
    pub Latitude: Option<f64>,
    pub Longitude: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct Face {
    pub Index: Option<i64>,
    pub Data: Option<String>,
}

/// `Data` is for the app and never pushed; `Desc`, `Ext`, `Sound` are the push's (unless the
/// message has an `OfflinePushInfo`, tim.md §3).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct Custom {
    pub Data: Option<String>,
    pub Desc: Option<String>,
    pub Ext: Option<String>,
    pub Sound: Option<String>,
}

/// Both shapes (REST with `Url`/`Download_Flag`, SDK 2.x/3.x without), tim.md §2.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct Sound {
    pub Url: Option<String>,
    pub UUID: Option<String>,
    pub Size: Option<u64>,
    pub Second: Option<u64>,
    pub Download_Flag: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct Image {
    pub UUID: Option<String>,
    pub ImageFormat: Option<u32>,
    pub ImageInfoArray: Option<Vec<ImageInfo>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct ImageInfo {
    pub Type: Option<u32>,
    pub Size: Option<u64>,
    pub Width: Option<u32>,
    pub Height: Option<u32>,
    pub URL: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct File {
    pub Url: Option<String>,
    pub UUID: Option<String>,
    pub FileSize: Option<u64>,
    pub FileName: Option<String>,
    pub Download_Flag: Option<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct Video {
    pub VideoUrl: Option<String>,
    pub VideoUUID: Option<String>,
    pub VideoSize: Option<u64>,
    pub VideoSecond: Option<u64>,
    pub VideoFormat: Option<String>,
    pub VideoDownloadFlag: Option<u8>,
    pub ThumbUrl: Option<String>,
    pub ThumbUUID: Option<String>,
    pub ThumbSize: Option<u64>,
    pub ThumbWidth: Option<u32>,
    pub ThumbHeight: Option<u32>,
    pub ThumbFormat: Option<String>,
    pub ThumbDownloadFlag: Option<u8>,
}

/// `OfflinePushInfo` (tim.md §3): the fields pushway supports. The others (`HarmonyInfo`,
/// `MultiLanguageContent`, `BadgeAddNum`/`BadgeSetNum`, templates, vendor channel ids and
/// categories, APNs images, VoIP, Live Activities…) are refused by name.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct OfflinePushInfo {
    pub PushFlag: Option<u8>,
    pub Title: Option<String>,
    pub Desc: Option<String>,
    pub Ext: Option<String>,
    pub AndroidInfo: Option<AndroidInfo>,
    pub ApnsInfo: Option<ApnsInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct AndroidInfo {
    pub Sound: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
pub(super) struct ApnsInfo {
    pub Sound: Option<String>,
    pub BadgeMode: Option<u8>,
    pub Title: Option<String>,
    pub SubTitle: Option<String>,
}
