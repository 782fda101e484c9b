//! Renders the sample messages in `fixtures/render/` and prints each notification (or why there
//! is none), as the recipient's phone would show it.
//!
//! ```text
//! cargo run --example render
//! ```

use std::path::Path;

use pushway::core::{Message, Recipient, Rendered, Renderer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/render");
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();

    for path in files {
        let case: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
        let message: Message = pushway::core::json::from_str(&case["message"].to_string())?;
        let recipient: Recipient = pushway::core::json::from_str(&case["recipient"].to_string())?;
        let mut renderer = Renderer::new();
        if case["options"]["custom_desc_brackets"] == false {
            renderer = renderer.custom_desc_brackets(false);
        }
        if let Some(package) = case["options"]["android_package"].as_str() {
            renderer = renderer.android_package(package);
        }
        let name = case["name"].as_str().unwrap_or("?");
        println!("── {name}");
        match renderer.render(&message, &recipient) {
            Ok(Rendered::Notification(n)) => {
                println!("   title   {}", n.title);
                if let Some(title) = &n.android_title {
                    println!("   android {title}");
                }
                println!("   body    {}", n.body);
                let sound = n
                    .android_sound
                    .as_ref()
                    .map_or("default", |s| s.name().unwrap_or(s.uri()));
                let badge = n.badge.map_or("none".to_owned(), |b| b.to_string());
                println!(
                    "   sound   android={sound} ios={:?}   badge {badge}   tap {:?}",
                    n.ios_sound, n.notify_mode
                );
                println!("   app     {}", n.app_data.to_json());
                for warning in &n.warnings {
                    println!("   warning {}: {warning:?}", warning.as_str());
                }
            }
            Ok(Rendered::Suppressed(reason)) => println!("   no push: {}", reason.as_str()),
            Err(e) => println!("   rejected: {e}"),
        }
    }
    Ok(())
}
