//! systemd readiness notification (sd_notify) without libsystemd: one datagram to $NOTIFY_SOCKET.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (e.g. "READY=1") when running under a service manager; does nothing otherwise.
pub fn send(state: &str) {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let target = target.to_string_lossy().into_owned();
    let result = UnixDatagram::unbound().and_then(|socket| {
        // A leading '@' names a socket in the abstract namespace.
        let address = match target.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
            None => SocketAddr::from_pathname(&target)?,
        };
        socket.send_to_addr(state.as_bytes(), &address)
    });
    if let Err(err) = result {
        eprintln!("covecd: notifying {target}: {err}");
    }
}
