//! A temporary directory beside the output, removed unless kept: what atomic writes (and
//! the test harness's per-run folders) need, in std alone, so a build-dependency on kiln
//! does not pull a crate (and its platform layer) for it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// A new, empty directory `<parent>/<prefix><unique>`. `create_dir` fails on any
    /// existing entry, a symbolic link included, so the directory is always a fresh one.
    pub(crate) fn new_in(parent: &Path, prefix: &str) -> io::Result<TempDir> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut last = None;
        for _ in 0..100 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = parent.join(format!("{prefix}{}-{nanos}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path, keep: false }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the directory (it is no longer removed) and returns its path.
    pub(crate) fn keep(mut self) -> PathBuf {
        self.keep = true;
        self.path.clone()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dir_is_fresh_and_removed_unless_kept() {
        let parent = std::env::temp_dir().join(format!("kiln-tempdir-test-{}", std::process::id()));
        std::fs::create_dir_all(&parent).unwrap();
        let a = TempDir::new_in(&parent, ".t-").unwrap();
        let b = TempDir::new_in(&parent, ".t-").unwrap();
        assert_ne!(a.path(), b.path());
        std::fs::write(a.path().join("f"), b"x").unwrap();
        let (pa, pb) = (a.path().to_path_buf(), b.keep());
        drop(a);
        assert!(!pa.exists(), "dropped: removed with its contents");
        assert!(pb.is_dir(), "kept");
        std::fs::remove_dir_all(&parent).unwrap();
    }
}
