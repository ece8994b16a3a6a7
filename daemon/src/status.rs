//! The status socket: a client connects, the daemon writes one JSON document and closes.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use serde_json::{json, Value};

pub struct DbReport {
    pub path: String,
    pub generation: Option<u64>,
    pub segment: Option<String>,
    pub bytes: Option<u64>,
    pub error: Option<String>,
    /// covecd's own builder of the db runs now.
    pub building: bool,
    /// Builds covecd committed since it started, and what ended the last one that failed.
    pub builds: u64,
    pub build_error: Option<String>,
}

/// A connection waiting for the main loop to describe the state it owns.
pub struct StatusRequest {
    pub reply: Sender<String>,
}

/// Binds the socket (owner-only) and serves each connection from a thread that asks the main loop.
pub fn listen(path: &Path) -> std::io::Result<Receiver<StatusRequest>> {
    if path.exists() {
        // A socket left by a daemon that died: connecting fails, so it can be replaced.
        if UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another covecd is serving this socket",
            ));
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let (tx, rx) = crossbeam_channel::bounded::<StatusRequest>(16);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let (reply, answer) = crossbeam_channel::bounded(1);
            if tx.send(StatusRequest { reply }).is_err() {
                return;
            }
            if let Ok(text) = answer.recv_timeout(Duration::from_secs(5)) {
                let _ = stream.write_all(text.as_bytes());
            }
        }
    });
    Ok(rx)
}

pub fn render(
    pid: u32,
    uptime: Duration,
    dbs: &[DbReport],
    segments: Result<Vec<covec::segment::DbSegments>, String>,
) -> String {
    let dbs: Vec<Value> = dbs
        .iter()
        .map(|d| {
            json!({"path": d.path, "generation": d.generation, "segment": d.segment,
                   "bytes": d.bytes, "error": d.error, "building": d.building,
                   "builds": d.builds, "build_error": d.build_error})
        })
        .collect();
    let segments = match segments {
        Ok(list) => Value::Array(list.iter().map(segments_json).collect()),
        Err(message) => json!({ "error": message }),
    };
    let doc = json!({"pid": pid, "uptime_s": uptime.as_secs_f64(), "dbs": dbs, "shm": segments});
    format!("{doc}\n")
}

fn segments_json(db: &covec::segment::DbSegments) -> Value {
    let segments: Vec<Value> = db
        .segments
        .iter()
        .map(|s| {
            json!({"name": s.name, "generations": s.generations, "bytes": s.bytes,
                   "length": s.length})
        })
        .collect();
    let slots: Vec<Value> = db
        .slots
        .iter()
        .map(|s| json!({"pid": s.pid, "generation": s.generation, "count": s.count}))
        .collect();
    json!({"db_id": db.db_id, "segments": segments, "attached": slots})
}

/// `covecd status`: prints the running daemon's report.
pub fn query(socket: &Path) -> i32 {
    let mut text = String::new();
    match UnixStream::connect(socket).and_then(|mut s| s.read_to_string(&mut text)) {
        Ok(_) => {
            print!("{text}");
            0
        }
        Err(err) => {
            eprintln!(
                "covecd status: no daemon answers on {}: {err}",
                socket.display()
            );
            1
        }
    }
}
