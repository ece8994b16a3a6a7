//! Command-line arguments, parsed by hand: a handful of flags do not justify a parser dependency.

use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "usage:
  covecd --db PATH [--db PATH ...] [--socket PATH] [--shm-dir DIR] [--group GID]
         [--poll-ms N] [--sweep-secs N]
      serve the dbs: load each into a shared-memory segment, keep it warm, follow new commits
  covecd status [--socket PATH]
      print the running daemon's status as JSON

defaults: --socket $COVECD_SOCKET or $RUNTIME_DIRECTORY/covecd.sock or /tmp/covecd-<uid>.sock,
          --shm-dir $COVEC_SHM_DIR or /dev/shm, --poll-ms 100, --sweep-secs 10";

pub enum Command {
    Serve,
    Status,
    Help,
}

pub struct Args {
    pub command: Command,
    pub dbs: Vec<PathBuf>,
    pub socket: PathBuf,
    pub shm_dir: PathBuf,
    pub group: Option<u32>,
    pub poll: Duration,
    pub sweep: Duration,
}

pub fn parse(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        command: Command::Serve,
        dbs: Vec::new(),
        socket: default_socket(),
        shm_dir: covec::segment::ShmConfig::from_env().dir,
        group: None,
        poll: Duration::from_millis(100),
        sweep: Duration::from_secs(10),
    };
    let mut first = true;
    while let Some(word) = words.next() {
        if first && word == "status" {
            args.command = Command::Status;
            first = false;
            continue;
        }
        first = false;
        let mut value = |flag: &str| words.next().ok_or_else(|| format!("{flag} needs a value"));
        match word.as_str() {
            "--db" => args.dbs.push(PathBuf::from(value("--db")?)),
            "--socket" => args.socket = PathBuf::from(value("--socket")?),
            "--shm-dir" => args.shm_dir = PathBuf::from(value("--shm-dir")?),
            "--group" => args.group = Some(number(&value("--group")?, "--group")?),
            "--poll-ms" => {
                args.poll = Duration::from_millis(number(&value("--poll-ms")?, "--poll-ms")?)
            }
            "--sweep-secs" => {
                args.sweep = Duration::from_secs(number(&value("--sweep-secs")?, "--sweep-secs")?)
            }
            "-h" | "--help" => {
                args.command = Command::Help;
                return Ok(args);
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if matches!(args.command, Command::Serve) && args.dbs.is_empty() {
        return Err("name at least one db with --db PATH".into());
    }
    Ok(args)
}

fn number<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag} takes a whole number, got '{text}'"))
}

fn default_socket() -> PathBuf {
    if let Ok(path) = std::env::var("COVECD_SOCKET") {
        return PathBuf::from(path);
    }
    if let Ok(dir) = std::env::var("RUNTIME_DIRECTORY") {
        return PathBuf::from(dir).join("covecd.sock");
    }
    PathBuf::from(format!("/tmp/covecd-{}.sock", nix::unistd::geteuid()))
}
