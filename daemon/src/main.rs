//! covecd: keeps the segments of named dbs loaded between worker restarts, moves them to each new
//! generation as commits land, builds the HNSW graphs those generations ask for, sweeps references left
//! by dead processes, and answers status queries.
//!
//! It is optional: every client can load and publish segments, and build, itself. The daemon is one more
//! holder of a reference, so a segment stays warm while no worker runs, and the one process that does the
//! copying when a writer commits; and one more builder, which outlives the writers (docs/ann.md, "The
//! builder").

mod args;
mod notify;
mod status;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{select, tick, Receiver};
use nix::sys::signal::{SigSet, Signal};

use covec::segment::{self, ShmConfig};
use covec::{BuilderThread, DbStatus, Follower, OpenOptions};

use args::{Args, Command};
use status::{DbReport, StatusRequest};

/// One served db: the follower that holds its newest generation (once the file could be opened), what
/// the last look found, and its builds.
struct Served {
    path: PathBuf,
    /// Shared with the db's builder thread, which moves it to each build it commits.
    follower: Option<Arc<Follower>>,
    status: Option<DbStatus>,
    last_error: Option<String>,
    /// The held generation's build need is still to be looked at: set when covecd moves to a new
    /// generation, kept while a builder (covecd's own, or another process's) holds `<db>.build`.
    check_build: bool,
    /// covecd's builder of this db, while it runs.
    builder: Option<BuilderThread>,
    /// Builds covecd's builders committed, and what ended the last one that failed.
    builds: u64,
    build_error: Option<String>,
}

fn main() {
    let args = match args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("covecd: {message}\n\n{}", args::USAGE);
            std::process::exit(2);
        }
    };
    let code = match args.command {
        Command::Status => status::query(&args.socket),
        Command::Help => {
            println!("{}", args::USAGE);
            0
        }
        Command::Serve => serve(&args),
    };
    std::process::exit(code);
}

fn serve(args: &Args) -> i32 {
    // Signals are taken by one thread through sigwait, so they arrive as channel messages; block them
    // before any other thread starts so every thread inherits the mask.
    let signals = signal_channel();
    let cfg = ShmConfig {
        dir: args.shm_dir.clone(),
        group: args.group,
    };
    // Segments always: holding them warm is the daemon's job.
    let options = OpenOptions {
        shm_dir: args.shm_dir.clone(),
        use_segment: true,
        group: args.group,
    };
    let mut served: Vec<Served> = args
        .dbs
        .iter()
        .map(|path| Served {
            path: path.clone(),
            follower: None,
            status: None,
            last_error: None,
            check_build: false,
            builder: None,
            builds: 0,
            build_error: None,
        })
        .collect();
    for db in &mut served {
        refresh(&options, db);
        if let Some(err) = &db.last_error {
            eprintln!("covecd: {}: {err}", db.path.display());
        }
    }
    park_builds_for_tests();
    let requests = match status::listen(&args.socket) {
        Ok(requests) => requests,
        Err(err) => {
            eprintln!("covecd: cannot listen on {}: {err}", args.socket.display());
            return 1;
        }
    };
    let started = Instant::now();
    println!(
        "ready: serving {} db(s); status socket {}",
        served.len(),
        args.socket.display()
    );
    notify::send("READY=1");

    let poll = tick(args.poll);
    let sweep = tick(args.sweep);
    loop {
        select! {
            recv(poll) -> _ => {
                for db in &mut served {
                    refresh(&options, db);
                    build(db);
                }
            }
            recv(sweep) -> _ => {
                if let Err(err) = segment::sweep(&cfg) {
                    eprintln!("covecd: sweep: {err}");
                }
            }
            recv(requests) -> request => {
                if let Ok(StatusRequest { reply }) = request {
                    let _ = reply.send(report(&cfg, &served, started));
                }
            }
            recv(signals) -> signal => {
                let signal = signal.map(|s| s.as_str()).unwrap_or("channel closed");
                println!("covecd: {signal}: detaching and exiting");
                notify::send("STOPPING=1");
                break;
            }
        }
    }
    // Dropping the followers detaches; a segment nobody else reads is unlinked now. A build still
    // running ends with the process, which loses only build work (docs/ann.md, "A builder that
    // crashes"): the next writer or covecd builds again.
    drop(served);
    let _ = std::fs::remove_file(&args.socket);
    if let Err(err) = segment::sweep(&cfg) {
        eprintln!("covecd: final sweep: {err}");
    }
    0
}

/// Moves `db` to its newest committed generation when the file changed since the last look (the
/// follower attaches the new generation before releasing the old, so it never drops to zero holders in
/// between). A db that cannot be opened yet is tried again at the next poll. A new generation is a new
/// build need to look at.
fn refresh(options: &OpenOptions, db: &mut Served) {
    let followed = match &db.follower {
        Some(follower) => follower.status(),
        None => Follower::open(&db.path, options).and_then(|follower| {
            let status = follower.status();
            db.follower = Some(Arc::new(follower));
            status
        }),
    };
    match followed {
        Ok(status) => {
            let before = db.status.as_ref().map(|s| s.generation);
            db.check_build |= before != Some(status.generation);
            db.status = Some(status);
            db.last_error = None;
        }
        Err(err) => db.last_error = Some(err.to_string()),
    }
}

/// Runs the build the held generation asks for (docs/ann.md, "The builder"), through the writers' own
/// builder (`covec::start_builder`): `<db>.build` elects one builder per db, so when a writer's runs,
/// covecd starts nothing and looks again at the next poll (the writer may exit mid-build, leaving the
/// build to covecd). One builder per db at a time: a collection whose build waits behind another's is
/// looked at again once that builder has ended and its generation arrived. A builder that fails is not
/// restarted until the next generation.
fn build(db: &mut Served) {
    if let Some(thread) = db.builder.take_if(|t| t.is_finished()) {
        match thread.join() {
            Ok(Ok(built)) => {
                db.builds += built;
                db.build_error = None;
            }
            Ok(Err(err)) => build_failed(db, err.to_string()),
            Err(_) => build_failed(db, "the builder thread panicked".into()),
        }
    }
    if !db.check_build || db.builder.is_some() {
        return;
    }
    let Some(follower) = &db.follower else {
        return;
    };
    // The builder loads its build's generation into shared memory (covecd holds every generation it
    // serves), so no reader's search or writer's commit pays for that copy.
    let built = Arc::downgrade(follower);
    let publish = move || {
        if let Some(follower) = built.upgrade() {
            let _ = follower.follow_loading();
        }
    };
    db.check_build = false;
    let wanted = match follower.builds_wanted() {
        Ok(wanted) => wanted,
        Err(err) => return build_failed(db, err.to_string()),
    };
    let Some((database, collection)) = wanted.first() else {
        return;
    };
    // The writers' builders lock `<canonical path>.build`.
    let started = std::fs::canonicalize(&db.path)
        .map_err(|err| err.to_string())
        .and_then(|path| {
            covec::start_builder(&path, database, collection, publish)
                .map_err(|err| err.to_string())
        });
    match started {
        Ok(Some(thread)) => db.builder = Some(thread),
        Ok(None) => db.check_build = true,
        Err(err) => build_failed(db, err),
    }
}

fn build_failed(db: &mut Served, message: String) {
    eprintln!("covecd: {}: build: {message}", db.path.display());
    db.build_error = Some(message);
}

/// Tests only (tests/test_daemon.py): with `COVECD_TEST_PARK_MID_BUILD` set, every build prints
/// "mid-build" and stops between preparing its graph and taking the writer lock, holding `<db>.build`
/// until the daemon is killed.
fn park_builds_for_tests() {
    if std::env::var_os("COVECD_TEST_PARK_MID_BUILD").is_none() {
        return;
    }
    covec::internals::builder::set_mid_build_hook(Some(Box::new(|_: &Path| {
        println!("mid-build");
        loop {
            std::thread::park();
        }
    })));
}

fn report(cfg: &ShmConfig, served: &[Served], started: Instant) -> String {
    let dbs: Vec<DbReport> = served
        .iter()
        .map(|db| DbReport {
            path: db.path.display().to_string(),
            generation: db.status.as_ref().map(|s| s.generation),
            segment: db.status.as_ref().and_then(|s| s.segment.clone()),
            bytes: db.status.as_ref().map(|s| s.mapped_bytes),
            error: db.last_error.clone(),
            building: db.builder.is_some(),
            builds: db.builds,
            build_error: db.build_error.clone(),
        })
        .collect();
    let segments = segment::status(cfg).map_err(|e| e.to_string());
    status::render(std::process::id(), started.elapsed(), &dbs, segments)
}

fn signal_channel() -> Receiver<Signal> {
    let mut set = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(signal);
    }
    set.thread_block()
        .expect("blocking signals in the main thread");
    let (tx, rx) = crossbeam_channel::bounded(4);
    std::thread::spawn(move || loop {
        match set.wait() {
            Ok(signal) => {
                if tx.send(signal).is_err() {
                    return;
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    });
    rx
}
