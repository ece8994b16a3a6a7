//! A forked child keeps using the parent's `Db` handle: it rebuilds its own state and both processes
//! see each other's commits. Alone in its binary so no other test thread holds a lock at fork time.

mod storage_util;

use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use storage_util::*;

#[test]
fn forked_child_reads_and_writes_through_the_inherited_handle() {
    let t = TempDb::new("fork");
    let db = t.open();
    db.create_collection("c", simple_schema(2), vec![]).unwrap();
    db.insert("c", vec![simple_row(1, [1.0, 0.0], "parent")])
        .unwrap();
    // SAFETY: the child only uses the db and then leaves with _exit, running no destructors.
    match unsafe { fork() }.unwrap() {
        ForkResult::Child => {
            let ok = db.count("c", "").ok() == Some(1)
                && db
                    .insert("c", vec![simple_row(2, [0.0, 1.0], "child")])
                    .is_ok()
                && db.count("c", "").ok() == Some(2);
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        ForkResult::Parent { child } => {
            assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
            assert_eq!(db.count("c", "").unwrap(), 2);
        }
    }
}
