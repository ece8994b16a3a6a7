//! Helpers shared by the segment_* tests: child processes, what covec left in an shm dir, SIGKILL.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command};

/// The covec files in `shm`, sorted.
pub fn covec_files(shm: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(shm)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("covec."))
        .collect();
    names.sort();
    names
}

/// SIGKILLs `child` (no destructor runs, no slot is released) and reaps it.
pub fn kill9(child: &mut Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
}

/// This test binary run again to execute only its `child_entry` test (which does nothing unless the
/// caller sets the environment that makes it a child).
pub fn child_command() -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--quiet",
    ]);
    cmd
}
