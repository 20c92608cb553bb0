//! The demo's "network cable": a TCP relay between the agent and the server stub. The agent's
//! `server_url` points here; cutting the link closes every relayed connection and refuses new
//! ones, so the agent really loses the server (timeouts and connection errors, exactly as when
//! the VPN drops) while the server itself keeps running. Nothing in the UI is faked.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running relay; dropping it stops it.
pub struct LinkProxy {
    addr: SocketAddr,
    online: Arc<AtomicBool>,
    link: watch::Sender<bool>,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl LinkProxy {
    /// Listens on 127.0.0.1 (free port) and relays to `upstream`.
    pub fn start(upstream: SocketAddr) -> std::io::Result<LinkProxy> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = runtime.block_on(TcpListener::bind(("127.0.0.1", 0)))?;
        let addr = listener.local_addr()?;
        let online = Arc::new(AtomicBool::new(true));
        let (link, link_rx) = watch::channel(true);
        let (stop, stop_rx) = watch::channel(false);
        let flag = online.clone();
        let thread = std::thread::Builder::new()
            .name("demo-link".into())
            .spawn(move || runtime.block_on(serve(listener, upstream, flag, link_rx, stop_rx)))?;
        Ok(LinkProxy {
            addr,
            online,
            link,
            stop,
            thread: Some(thread),
        })
    }

    /// Where the agent should connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the link is up.
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::SeqCst)
    }

    /// Cuts (false) or restores (true) the link.
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::SeqCst);
        let _ = self.link.send(online);
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    online: Arc<AtomicBool>,
    link: watch::Receiver<bool>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((client, _)) = accepted else { continue };
        if !online.load(Ordering::SeqCst) {
            // Link down: the connection is dropped at once (the agent sees a reset).
            drop(client);
            continue;
        }
        let mut link = link.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(upstream).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut client, mut server) = (client, server);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = link.wait_for(|up| !up) => {}
                _ = stop.changed() => {}
            }
        });
    }
}
