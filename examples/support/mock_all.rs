//! `pushway-mock all` as the benchmarks start it (`router_e2e`, `gateway_bench`): the APNs,
//! Xiaomi and Huawei simulators in one process, recording off, accepting the credentials below;
//! the three JSON lines it prints on start (base URLs, the CA), by simulator name.

use std::collections::HashMap;
use std::error::Error;
use std::io::{BufRead, BufReader, Lines};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use pushway_mock::apns::TestKey;

/// The app's package, APNs topic and Xiaomi/Huawei package.
pub const PACKAGE: &str = "com.example.chat";
pub const TEAM_ID: &str = "T3AM1D9ZQ8";
pub const KEY_ID: &str = "K7Q2M9X4PL";
pub const XIAOMI_SECRET: &str = "bench-xiaomi-app-secret";
pub const HUAWEI_APP_ID: &str = "104437395";
pub const HUAWEI_SECRET: &str = "bench-huawei-client-secret";

/// Starts `bin` (`pushway-mock`) trusting `key` (its public key written to `key_path`) and
/// reads its three start lines. The caller owns the child (and kills it).
pub fn start(
    bin: &Path,
    key: &TestKey,
    key_path: &Path,
) -> Result<(Child, HashMap<String, serde_json::Value>), String> {
    std::fs::write(key_path, key.public_key_pem())
        .map_err(|e| format!("{}: {e}", key_path.display()))?;
    let mut child = Command::new(bin)
        .arg("all")
        .args(["--recording", "off"])
        .arg("--apns-key")
        .arg(format!("{TEAM_ID}:{KEY_ID}:{}", key_path.display()))
        .args(["--apns-topic", PACKAGE])
        .args(["--xiaomi-app-secret", XIAOMI_SECRET])
        .args(["--xiaomi-package", PACKAGE])
        .arg("--xiaomi-require-channel-id")
        .args(["--huawei-app-id", HUAWEI_APP_ID])
        .args(["--huawei-client-secret", HUAWEI_SECRET])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err("pushway-mock: no stdout".to_owned());
    };
    let mut reader = BufReader::new(stdout).lines();
    let lines = match start_lines(&mut reader) {
        Ok(lines) => lines,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("pushway-mock: {e}"));
        }
    };
    // Keep reading: the simulator prints more lines (FCM's, its log), and a closed pipe would
    // end it with EPIPE.
    std::thread::spawn(move || reader.for_each(drop));
    Ok((child, lines))
}

/// The three JSON lines a starting `pushway-mock all` prints, by simulator name.
fn start_lines(
    reader: &mut Lines<BufReader<ChildStdout>>,
) -> Result<HashMap<String, serde_json::Value>, Box<dyn Error>> {
    let mut lines = HashMap::new();
    while lines.len() < 3 {
        let line = reader
            .next()
            .ok_or("pushway-mock exited before starting")??;
        let value: serde_json::Value = serde_json::from_str(&line)?;
        let name = value["simulator"].as_str().ok_or("no simulator name")?;
        lines.insert(name.to_owned(), value);
    }
    Ok(lines)
}
