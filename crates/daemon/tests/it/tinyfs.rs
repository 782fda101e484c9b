//! A tiny filesystem for disk-full tests: a tmpfs mounted by the test on a temporary directory.
//!
//! Mounting needs root (CI runs as root). A test that needs it and cannot mount fails with a
//! message saying so: it never skips silently.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of a few hundred KB, unmounted (and its directory removed) on drop.
pub struct TinyFs {
    dir: PathBuf,
}

impl TinyFs {
    pub fn mount(name: &str, size_kb: u32) -> TinyFs {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "pushway-daemon-tinyfs-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let size = format!("size={size_kb}k");
        run_mount(&["-t", "tmpfs", "-o", &size, "tmpfs"], &dir, None);
        TinyFs { dir }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Fills the filesystem with a filler file until a write fails with "no space left".
    pub fn fill(&self) {
        use std::io::Write;
        let mut filler = std::fs::File::create(self.dir.join("filler")).unwrap();
        let block = [0u8; 4096];
        loop {
            match filler.write_all(&block) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the tiny filesystem: {e}"),
            }
        }
        let _ = filler.sync_all();
    }

    /// Gives the space back.
    pub fn free(&self) {
        std::fs::remove_file(self.dir.join("filler")).unwrap();
    }

    /// Makes `file` unwritable for whoever opens it from now on, root included (a read-only
    /// bind mount of the file onto itself; chmod does not stop root).
    pub fn make_unwritable(&self, file: &Path) {
        run_mount(&["--bind"], file, Some(file));
        run_mount(&["-o", "remount,bind,ro"], file, None);
    }

    /// Makes `file` writable again for new opens (descriptors opened meanwhile stay read-only).
    pub fn make_writable(&self, file: &Path) {
        let status = Command::new("umount").arg("-l").arg(file).status().unwrap();
        assert!(status.success(), "umount -l {}", file.display());
    }
}

/// `mount <args> [source] <target>`.
fn run_mount(args: &[&str], target: &Path, source: Option<&Path>) {
    let output = Command::new("mount")
        .args(args)
        .args(source)
        .arg(target)
        .output()
        .expect("running mount(8)");
    let dir = target;
    assert!(
        output.status.success(),
        "this test mounts a tiny tmpfs and needs root (CI runs as root): mount {args:?} {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl Drop for TinyFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
