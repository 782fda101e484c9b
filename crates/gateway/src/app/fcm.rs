//! An app's FCM credential built into an [`FcmProvider`].

use pushway_fcm::{FcmProvider, ServiceAccountKey};

use crate::config::{ConfigError, FcmConfig};

/// The provider of credential `at` (`apps.<app>.fcm.<name>`), its key file's JSON `json`. Errors name the key that is
/// wrong — `…service_account_file` or `…service_account`, after the source the key came from —
/// and never quote the key: the FCM crate's messages name fields, not values.
pub(super) fn fcm_provider(
    at: &str,
    fcm: &FcmConfig,
    json: &str,
) -> Result<FcmProvider, ConfigError> {
    let key = format!("{at}.service_account");
    let source = if fcm.service_account_file.is_some() {
        format!("{key}_file")
    } else {
        key
    };
    let account = ServiceAccountKey::from_json(json).map_err(|e| ConfigError::at(&source, e))?;
    let mut builder = FcmProvider::builder()
        .service_account(account)
        .channel_id(&fcm.channel_id)
        .allow_plain_http(fcm.danger_allow_plain_http);
    if let Some(project) = &fcm.project_id {
        builder = builder.project_id(project);
    }
    if let Some(action) = &fcm.click_action {
        builder = builder.click_action(action);
    }
    if let Some(url) = &fcm.api_base_url {
        builder = builder.api_base_url(url);
    }
    if let Some(url) = &fcm.token_url {
        builder = builder.token_url(url);
    }
    if let Some(ca) = &fcm.ca_cert_pem {
        builder = builder.add_root_certificate_pem(ca.as_bytes().to_vec());
    }
    builder.build().map_err(|e| ConfigError::at(at, e))
}
