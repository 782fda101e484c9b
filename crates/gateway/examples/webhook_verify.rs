//! Verifies one webhook request as a receiver would: the raw body, the `Pushway-Timestamp` and
//! `Pushway-Signature` headers, and the signing secret; prints `valid` (exit 0) or
//! `invalid: <why>` (exit 1). See `docs/webhooks.md`.
//!
//! ```sh
//! cargo run -p pushway-gateway --example webhook_verify -- \
//!   --secret-file secret.txt --timestamp 1765000000 --signature 'v1=…' --body body.json
//! ```
//!
//! `--secret` gives the secret inline, `--body -` reads the body from stdin, and `--now SECS`
//! checks against another clock (to replay a captured request).

use std::io::Read as _;
use std::process::ExitCode;

use pushway_gateway::webhook;

fn main() -> ExitCode {
    match run() {
        Ok(Ok(())) => {
            println!("valid");
            ExitCode::SUCCESS
        }
        Ok(Err(why)) => {
            println!("invalid: {why}");
            ExitCode::from(1)
        }
        Err(usage) => {
            eprintln!("{usage}");
            eprintln!(
                "usage: webhook_verify (--secret S | --secret-file F) --timestamp T \
                 --signature 'v1=…' --body (FILE | -) [--now UNIX_SECONDS]"
            );
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<Result<(), webhook::VerifyError>, String> {
    let mut args = std::env::args().skip(1);
    let (mut secret, mut timestamp, mut signature, mut body, mut now) =
        (None, None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--secret" => secret = Some(value.into_bytes()),
            "--secret-file" => {
                let text = std::fs::read_to_string(&value).map_err(|e| format!("{value}: {e}"))?;
                // As the gateway reads `secret_file`: without the trailing newline.
                secret = Some(text.trim_end_matches(['\r', '\n']).as_bytes().to_vec());
            }
            "--timestamp" => timestamp = Some(value),
            "--signature" => signature = Some(value),
            "--body" if value == "-" => {
                let mut bytes = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut bytes)
                    .map_err(|e| format!("stdin: {e}"))?;
                body = Some(bytes);
            }
            "--body" => body = Some(std::fs::read(&value).map_err(|e| format!("{value}: {e}"))?),
            "--now" => {
                now = Some(
                    value
                        .parse()
                        .map_err(|_| "--now: not a number".to_owned())?,
                )
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    let now = match now {
        Some(now) => now,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs()
            .try_into()
            .map_err(|_| "the clock is past 2262".to_owned())?,
    };
    Ok(webhook::verify(
        &secret.ok_or("--secret or --secret-file is required")?,
        &timestamp.ok_or("--timestamp is required")?,
        &signature.ok_or("--signature is required")?,
        &body.ok_or("--body is required")?,
        now,
    ))
}
