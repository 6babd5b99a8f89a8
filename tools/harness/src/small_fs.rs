//! A small tmpfs mounted over a test's directory (a disk that fills up),
//! unmounted on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{ensure, Context, Result};

pub struct SmallFs(PathBuf);

impl SmallFs {
    /// Mounts a tmpfs of `size` (`8m`) on `dir` (mode 0755).
    pub fn mount(dir: &Path, size: &str) -> Result<SmallFs> {
        let st = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .context("cannot run mount")?;
        ensure!(st.success(), "mount -t tmpfs on {} failed", dir.display());
        Ok(SmallFs(dir.to_path_buf()))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
