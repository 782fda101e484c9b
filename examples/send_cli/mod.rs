//! What the send examples (`apns_send`, `xiaomi_send`, `huawei_send`, `fcm_send`) share: settings from
//! a flag or the environment, the `--notify-mode` flag, and the exit code.

// Each example uses part of this module.
#![allow(dead_code)]

use std::process::ExitCode;

use clap::ValueEnum;
use pushway::core::NotifyMode;

/// The flag's value, else the environment variable's; empty counts as unset.
pub fn setting(flag: Option<String>, env: &str) -> Option<String> {
    flag.or_else(|| std::env::var(env).ok())
        .filter(|v| !v.is_empty())
}

/// What a tap does (`--notify-mode`).
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ModeArg {
    Normal,
    Custom,
}

impl From<ModeArg> for NotifyMode {
    fn from(mode: ModeArg) -> NotifyMode {
        match mode {
            ModeArg::Normal => NotifyMode::Normal,
            ModeArg::Custom => NotifyMode::Custom,
        }
    }
}

/// 0 when every token was delivered, 1 when one was not, 2 (the error printed) when the send
/// could not be made.
pub fn exit(result: Result<bool, Box<dyn std::error::Error>>) -> ExitCode {
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
