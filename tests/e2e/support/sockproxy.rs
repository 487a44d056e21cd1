//! A unix-socket proxy in front of the Docker socket that a test can cut and restore: the agent loses its event
//! stream (and every other Docker call) while the daemon itself goes on running containers.

use std::io::copy;
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

struct State {
    upstream: PathBuf,
    cut: AtomicBool,
    open: Mutex<Vec<UnixStream>>,
}

/// The running proxy; its socket lives as long as the test's temporary directory.
pub struct SocketProxy {
    /// The socket the agent should use.
    pub path: PathBuf,
    state: Arc<State>,
    _dir: tempfile::TempDir,
}

fn pipe(mut from: UnixStream, mut to: UnixStream) {
    let _ = copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

fn serve(listener: UnixListener, state: Arc<State>) {
    for conn in listener.incoming() {
        let Ok(client) = conn else { continue };
        if state.cut.load(Ordering::SeqCst) {
            drop(client); // refused: the agent sees its request fail
            continue;
        }
        let Ok(upstream) = UnixStream::connect(&state.upstream) else {
            continue;
        };
        let pairs = (client.try_clone(), upstream.try_clone());
        let (Ok(client2), Ok(upstream2)) = pairs else {
            continue;
        };
        if let (Ok(a), Ok(b)) = (client.try_clone(), upstream.try_clone()) {
            state.open.lock().unwrap().extend([a, b]);
        }
        thread::spawn(move || pipe(client, upstream2));
        thread::spawn(move || pipe(upstream, client2));
    }
}

impl SocketProxy {
    /// Starts a proxy for the Docker socket at `upstream`.
    pub fn start(upstream: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let state = Arc::new(State {
            upstream: upstream.into(),
            cut: AtomicBool::new(false),
            open: Mutex::default(),
        });
        let serving = state.clone();
        thread::spawn(move || serve(listener, serving));
        Self {
            path,
            state,
            _dir: dir,
        }
    }

    /// Drops every open connection and refuses new ones until [`SocketProxy::restore`].
    pub fn cut(&self) {
        self.state.cut.store(true, Ordering::SeqCst);
        for s in self.state.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.state.cut.store(false, Ordering::SeqCst);
    }
}
