//! The fault proxy: plain HTTP between one agent and the server on 127.0.0.1. For each request
//! a seeded RNG picks a fault by the configured rates; an outage switch refuses everything.
//!
//! Faults that answer after forwarding (drop, reset, delay, garbage, truncated) let the server
//! record the sale while the agent never learns it: the case exactly-once delivery is about.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::http::{self, Message};

/// What the proxy did with one request (or connection, during an outage).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Forwarded both ways untouched.
    Pass,
    /// Closed without an answer (half the time after forwarding the request).
    Drop,
    /// Part of the answer, then a TCP reset.
    Reset,
    /// Held up to the configured maximum, then passed.
    Delay,
    /// Answered 5xx by the proxy itself; the server never saw the request.
    Error5xx,
    /// The server's status and headers with random bytes as the body.
    Garbage,
    /// The head promises more body bytes than are sent before the close.
    Truncated,
    /// Refused during an outage ("all down").
    Down,
}

impl Fault {
    /// Every kind, in the order figures print them.
    pub const ALL: [Fault; 8] = [
        Fault::Pass,
        Fault::Drop,
        Fault::Reset,
        Fault::Delay,
        Fault::Error5xx,
        Fault::Garbage,
        Fault::Truncated,
        Fault::Down,
    ];

    /// The name used in figures.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Pass => "pass",
            Fault::Drop => "drop",
            Fault::Reset => "reset",
            Fault::Delay => "delay",
            Fault::Error5xx => "5xx",
            Fault::Garbage => "garbage",
            Fault::Truncated => "truncated",
            Fault::Down => "down",
        }
    }

    fn index(self) -> usize {
        Fault::ALL.iter().position(|f| *f == self).unwrap_or(0)
    }
}

/// Probability of each fault per request; what is left over passes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct FaultRates {
    /// [`Fault::Drop`].
    pub drop: f64,
    /// [`Fault::Reset`].
    pub reset: f64,
    /// [`Fault::Delay`].
    pub delay: f64,
    /// [`Fault::Error5xx`].
    pub error_5xx: f64,
    /// [`Fault::Garbage`].
    pub garbage: f64,
    /// [`Fault::Truncated`].
    pub truncated: f64,
}

impl FaultRates {
    /// No faults.
    pub const NONE: FaultRates = FaultRates {
        drop: 0.0,
        reset: 0.0,
        delay: 0.0,
        error_5xx: 0.0,
        garbage: 0.0,
        truncated: 0.0,
    };

    /// Every fault at `rate` (so `6 * rate` of requests are faulted).
    pub fn each(rate: f64) -> FaultRates {
        FaultRates {
            drop: rate,
            reset: rate,
            delay: rate,
            error_5xx: rate,
            garbage: rate,
            truncated: rate,
        }
    }

    /// Only `fault` at `rate`.
    pub fn only(fault: Fault, rate: f64) -> FaultRates {
        let mut rates = FaultRates::NONE;
        match fault {
            Fault::Drop => rates.drop = rate,
            Fault::Reset => rates.reset = rate,
            Fault::Delay => rates.delay = rate,
            Fault::Error5xx => rates.error_5xx = rate,
            Fault::Garbage => rates.garbage = rate,
            Fault::Truncated => rates.truncated = rate,
            Fault::Pass | Fault::Down => {}
        }
        rates
    }

    fn pick(&self, roll: f64) -> Fault {
        let table = [
            (Fault::Drop, self.drop),
            (Fault::Reset, self.reset),
            (Fault::Delay, self.delay),
            (Fault::Error5xx, self.error_5xx),
            (Fault::Garbage, self.garbage),
            (Fault::Truncated, self.truncated),
        ];
        let mut edge = 0.0;
        for (fault, rate) in table {
            edge += rate.max(0.0);
            if roll < edge {
                return fault;
            }
        }
        Fault::Pass
    }
}

/// Fault counts by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultCounts(pub Vec<(String, u64)>);

impl FaultCounts {
    /// The count of one kind.
    pub fn get(&self, fault: Fault) -> u64 {
        self.0
            .iter()
            .find(|(name, _)| name == fault.name())
            .map_or(0, |(_, n)| *n)
    }

    /// Adds another set of counts.
    pub fn add(&mut self, other: &FaultCounts) {
        for (name, n) in &other.0 {
            match self.0.iter_mut().find(|(k, _)| k == name) {
                Some((_, total)) => *total += n,
                None => self.0.push((name.clone(), *n)),
            }
        }
    }
}

struct Shared {
    upstream: Mutex<SocketAddr>,
    rng: Mutex<ChaCha8Rng>,
    rates: Mutex<FaultRates>,
    max_delay: Mutex<Duration>,
    down: AtomicBool,
    counts: [AtomicU64; Fault::ALL.len()],
}

/// Poisoning only means another proxy task panicked; the data (rates, RNG) is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running fault proxy; stops when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1 (any free port) and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr, seed: u64) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream: Mutex::new(upstream),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            rates: Mutex::new(FaultRates::NONE),
            max_delay: Mutex::new(Duration::from_secs(10)),
            down: AtomicBool::new(false),
            counts: Default::default(),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy { addr, shared, task })
    }

    /// Where agents connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets the fault rates for the requests that follow.
    pub fn set_rates(&self, rates: FaultRates) {
        *lock(&self.shared.rates) = rates;
    }

    /// The longest [`Fault::Delay`] (each delay is drawn up to it).
    pub fn set_max_delay(&self, max: Duration) {
        *lock(&self.shared.max_delay) = max;
    }

    /// Points the proxy at another server address.
    pub fn set_upstream(&self, upstream: SocketAddr) {
        *lock(&self.shared.upstream) = upstream;
    }

    /// Outage on (`true`: every connection is closed unanswered) or off.
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Counts so far.
    pub fn counts(&self) -> FaultCounts {
        FaultCounts(
            Fault::ALL
                .iter()
                .map(|f| {
                    (
                        f.name().to_owned(),
                        self.shared.counts[f.index()].load(Ordering::Relaxed),
                    )
                })
                .collect(),
        )
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if shared.down.load(Ordering::SeqCst) {
            shared.counts[Fault::Down.index()].fetch_add(1, Ordering::Relaxed);
            reset(client);
            continue;
        }
        tokio::spawn(serve(client, shared.clone()));
    }
}

/// Closes with RST instead of FIN.
fn reset(stream: TcpStream) {
    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
    drop(stream);
}

/// One client connection: requests in order, each with its own fault; any fault but a pass or a
/// delay ends the connection, as the real failure would.
async fn serve(mut client: TcpStream, shared: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let mut client_buf = Vec::new();
    let mut upstream: Option<(TcpStream, Vec<u8>)> = None;
    loop {
        let request = match http::read_message(&mut client, &mut client_buf, false, false).await {
            Ok(Some(request)) => request,
            _ => return,
        };
        if shared.down.load(Ordering::SeqCst) {
            shared.counts[Fault::Down.index()].fetch_add(1, Ordering::Relaxed);
            reset(client);
            return;
        }
        let (fault, roll, delay) = {
            let mut rng = lock(&shared.rng);
            let fault = lock(&shared.rates).pick(rng.random::<f64>());
            let roll: f64 = rng.random();
            let max = *lock(&shared.max_delay);
            let delay = max.mul_f64(rng.random::<f64>());
            (fault, roll, delay)
        };
        shared.counts[fault.index()].fetch_add(1, Ordering::Relaxed);
        if fault == Fault::Error5xx {
            let body =
                b"{\"type\":\"about:blank\",\"title\":\"injected by mask-chaos\",\"status\":503}";
            let head = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
                 content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = client.write_all(head.as_bytes()).await;
            let _ = client.write_all(body).await;
            let _ = client.shutdown().await;
            return;
        }
        if fault == Fault::Drop && roll < 0.5 {
            // Closed before the server saw anything.
            return;
        }
        let response = match forward(&shared, &mut upstream, &request).await {
            Some(response) => response,
            None => {
                // The server is gone (restart, kill): the agent sees the connection die.
                reset(client);
                return;
            }
        };
        match fault {
            Fault::Pass => {
                if client.write_all(&response.raw).await.is_err() {
                    return;
                }
            }
            Fault::Delay => {
                tokio::time::sleep(delay).await;
                if client.write_all(&response.raw).await.is_err() {
                    return;
                }
            }
            Fault::Drop => return,
            Fault::Reset => {
                let cut = cut_point(response.raw.len(), roll);
                let _ = client.write_all(&response.raw[..cut]).await;
                let _ = client.flush().await;
                reset(client);
                return;
            }
            Fault::Garbage => {
                let _ = client.write_all(&garbage(&response, roll)).await;
                let _ = client.shutdown().await;
                return;
            }
            Fault::Truncated => {
                let _ = client.write_all(&truncated(&response, roll)).await;
                let _ = client.shutdown().await;
                return;
            }
            Fault::Error5xx | Fault::Down => return,
        }
    }
}

/// Sends `request` upstream (one upstream connection per client connection) and reads the answer.
async fn forward(
    shared: &Shared,
    upstream: &mut Option<(TcpStream, Vec<u8>)>,
    request: &Message,
) -> Option<Message> {
    if upstream.is_none() {
        let addr = *lock(&shared.upstream);
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .ok()?
            .ok()?;
        let _ = stream.set_nodelay(true);
        *upstream = Some((stream, Vec::new()));
    }
    let (stream, buf) = upstream.as_mut()?;
    if stream.write_all(&request.raw).await.is_err() {
        *upstream = None;
        return None;
    }
    let head = http::is_head_request(request);
    match tokio::time::timeout(
        Duration::from_secs(60),
        http::read_message(stream, buf, true, head),
    )
    .await
    {
        Ok(Ok(Some(response))) => Some(response),
        _ => {
            *upstream = None;
            None
        }
    }
}

/// Somewhere strictly inside the message, so at least one byte is missing.
fn cut_point(len: usize, roll: f64) -> usize {
    if len <= 1 {
        return 0;
    }
    ((len as f64 * roll) as usize).clamp(1, len - 1)
}

/// The response's status line and headers (length fixed up) with random bytes as body.
fn garbage(response: &Message, roll: f64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(roll.to_bits());
    let len = response.body().len().max(16);
    let body: Vec<u8> = (0..len).map(|_| rng.random::<u8>()).collect();
    let mut out = head_with_length(response, body.len());
    out.extend_from_slice(&body);
    out
}

/// The head with a Content-Length longer than the bytes that follow.
fn truncated(response: &Message, roll: f64) -> Vec<u8> {
    let body = response.body();
    let promised = body.len().max(1) + 64;
    let sent = cut_point(body.len() + 1, roll).min(body.len());
    let mut out = head_with_length(response, promised);
    out.extend_from_slice(&body[..sent]);
    out
}

/// The head without Content-Length / Transfer-Encoding, with `Content-Length: len` instead.
fn head_with_length(response: &Message, len: usize) -> Vec<u8> {
    let head = response.head_text();
    let mut out = String::new();
    for line in head.trim_end_matches("\r\n").split("\r\n") {
        let name = line.split(':').next().unwrap_or_default();
        if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("connection")
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str(&format!(
        "content-length: {len}\r\nconnection: close\r\n\r\n"
    ));
    out.into_bytes()
}

#[cfg(test)]
mod tests;
