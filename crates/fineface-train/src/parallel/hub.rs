//! The link between the nodes of a run over several machines: node 0 is a hub the others
//! connect to over TCP, and each all-reduce sends every node's sum to the hub, which adds
//! them in rank order and sends the total back.
//!
//! Why not burn-collective's global orchestrator: in burn-collective 0.21 every all-reduce
//! between nodes ends with `SyncService::sync`, which clears a copy of its list of synced
//! nodes instead of the list, so a session's second all-reduce between nodes waits forever
//! (measured: two processes on localhost hang in the first gradient step, after the
//! weights' all-reduce went through). Within a node burn-collective's local all-reduce is
//! used as it is; only the step between nodes is this hub.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::error::{Result, TrainError};

/// The hub's node settings (`--nodes --node-rank --hub`), kept for `bench allreduce`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSettings {
    /// Number of nodes (machines), at least 2.
    pub nodes: u32,
    /// This node's rank, `0..nodes`.
    pub rank: u32,
    /// `HOST:PORT` of node 0 as the other nodes reach it; node 0 listens there.
    pub hub: String,
}

impl HubSettings {
    /// Checks the rank and the hub's address.
    ///
    /// # Errors
    /// [`TrainError::Nodes`] naming the value that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.nodes < 2 {
            return Err(TrainError::Nodes(format!(
                "--nodes {} (a run over several machines has at least 2; leave --nodes out on \
                 one machine)",
                self.nodes
            )));
        }
        if self.rank >= self.nodes {
            return Err(TrainError::Nodes(format!(
                "--node-rank {} is not below --nodes {}",
                self.rank, self.nodes
            )));
        }
        self.hub_port().map(|_| ())
    }

    /// The port node 0 listens on.
    ///
    /// # Errors
    /// [`TrainError::Nodes`] for an address without a port.
    pub fn hub_port(&self) -> Result<u16> {
        self.hub
            .rsplit_once(':')
            .and_then(|(host, port)| (!host.is_empty()).then_some(port))
            .and_then(|port| port.parse::<u16>().ok())
            .ok_or_else(|| TrainError::Nodes(format!("--hub `{}` is not HOST:PORT", self.hub)))
    }

    /// Whether this node validates, checkpoints and writes the run folder.
    pub fn is_first(&self) -> bool {
        self.rank == 0
    }
}

/// How long node 0 waits for the others to connect, and the others for node 0 to listen.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(300);

/// How long a greeting may take once a connection is open (a stray connection that sends
/// nothing must not block node 0).
const GREETING_TIMEOUT: Duration = Duration::from_secs(30);

const MAGIC: [u8; 4] = *b"FFDP";

/// A node's connection(s) to the other nodes.
#[derive(Debug)]
pub struct NodeLink {
    rank: u32,
    /// Node 0: a stream to each other node, in rank order. Others: the stream to node 0.
    streams: Vec<TcpStream>,
}

impl NodeLink {
    /// Node 0 listens on the hub's address until every other node has connected; the others
    /// connect to the hub (retrying until it listens). Each node says its rank, the number
    /// of nodes, its number of workers and `fingerprint` (of the training settings), which
    /// must agree.
    ///
    /// # Errors
    /// [`TrainError::Nodes`] when a node does not connect within [`CONNECT_TIMEOUT`], a
    /// socket fails, or the nodes disagree.
    pub fn connect(settings: &HubSettings, workers: usize, fingerprint: u64) -> Result<Self> {
        Self::connect_within(settings, workers, fingerprint, CONNECT_TIMEOUT)
    }

    /// [`connect`](Self::connect), waiting at most `timeout` for the other nodes; the wait
    /// is logged every 10 s (what it waits for, for how long so far, when it gives up).
    ///
    /// # Errors
    /// As [`connect`](Self::connect).
    pub fn connect_within(
        settings: &HubSettings,
        workers: usize,
        fingerprint: u64,
        timeout: Duration,
    ) -> Result<Self> {
        settings.validate()?;
        let hello = Hello {
            rank: settings.rank,
            nodes: settings.nodes,
            workers: workers as u32,
            fingerprint,
        };
        if settings.is_first() {
            Self::listen(settings, hello, timeout)
        } else {
            Self::join(settings, hello, timeout)
        }
    }

    /// Node 0 listens where `--hub` says (`10.0.0.1:29500`: that interface alone;
    /// `0.0.0.0:29500`: every interface), not on every interface whatever the user named.
    fn listen(settings: &HubSettings, own: Hello, timeout: Duration) -> Result<Self> {
        let hub = &settings.hub;
        let listener = TcpListener::bind(hub.as_str())
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| {
                TrainError::Nodes(format!(
                    "node 0 cannot listen on {hub} (--hub): {e}; node 0 listens where --hub \
                     says, so name an address of this machine (0.0.0.0:PORT for all of them)"
                ))
            })?;
        let port = settings.hub_port()?;
        warn_if_loopback_only(&listener, hub);
        let mut waiting = Waiting::new(timeout);
        let mut joined: Vec<Option<TcpStream>> = (1..own.nodes).map(|_| None).collect();
        while joined.iter().any(Option::is_none) {
            match listener.accept() {
                Ok((stream, from)) => Self::greet(stream, from, own, &mut joined)?,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let missing: Vec<usize> = (1..)
                        .zip(&joined)
                        .filter(|(_, s)| s.is_none())
                        .map(|(rank, _)| rank)
                        .collect();
                    if waiting.over() {
                        return Err(TrainError::Nodes(format!(
                            "nodes {missing:?} did not connect to {hub} within {} s",
                            timeout.as_secs()
                        )));
                    }
                    waiting.log(|waited, left| {
                        tracing::info!(
                            "node 0 waiting on {hub} for nodes {missing:?} to connect \
                             ({waited} s so far, {left} s left)"
                        );
                    });
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => return Err(TrainError::Nodes(format!("{hub} (port {port}): {e}"))),
            }
        }
        Ok(Self {
            rank: 0,
            streams: joined.into_iter().flatten().collect(),
        })
    }

    /// Node 0 reads a connecting node's greeting and answers it: accepted into `joined` at its
    /// rank, or refused (and the run stopped) when it runs another number of nodes or
    /// workers, other settings, or a rank taken or out of range.
    fn greet(
        mut stream: TcpStream,
        from: std::net::SocketAddr,
        own: Hello,
        joined: &mut [Option<TcpStream>],
    ) -> Result<()> {
        let io = |e: std::io::Error| TrainError::Nodes(format!("node at {from}: {e}"));
        stream.set_nonblocking(false).map_err(io)?;
        stream.set_nodelay(true).map_err(io)?;
        stream
            .set_read_timeout(Some(GREETING_TIMEOUT))
            .map_err(io)?;
        let hello = Hello::read(&mut stream).map_err(io)?;
        stream.set_read_timeout(None).map_err(io)?;
        let slot = hello.rank.checked_sub(1).map(|r| r as usize);
        let refusal = if hello.nodes != own.nodes || hello.workers != own.workers {
            Some(format!(
                "node {} at {from} runs {} nodes of {} workers, node 0 {} of {}",
                hello.rank, hello.nodes, hello.workers, own.nodes, own.workers
            ))
        } else if hello.fingerprint != own.fingerprint {
            Some(format!(
                "node {} at {from} trains other settings than node 0 (batch size, \
                 seed, epochs, rates...: the nodes must run the same experiment)",
                hello.rank
            ))
        } else if slot.is_none_or(|s| s >= joined.len() || joined[s].is_some()) {
            Some(format!(
                "node at {from} says rank {}, taken or out of range",
                hello.rank
            ))
        } else {
            None
        };
        stream
            .write_all(&[u8::from(refusal.is_some())])
            .map_err(io)?;
        if let Some(refusal) = refusal {
            return Err(TrainError::Nodes(refusal));
        }
        if let Some(s) = slot {
            tracing::info!(rank = hello.rank, %from, "node joined");
            joined[s] = Some(stream);
        }
        Ok(())
    }

    fn join(settings: &HubSettings, own: Hello, timeout: Duration) -> Result<Self> {
        let hub = &settings.hub;
        let mut waiting = Waiting::new(timeout);
        let mut stream = loop {
            match TcpStream::connect(hub) {
                Ok(stream) => break stream,
                Err(e) if waiting.over() => {
                    return Err(TrainError::Nodes(format!(
                        "cannot reach node 0 at {hub} within {} s: {e}",
                        timeout.as_secs()
                    )));
                }
                Err(e) => {
                    waiting.log(|waited, left| {
                        tracing::info!(
                            "node {} waiting for node 0 at {hub} ({e}; {waited} s so far, \
                             {left} s left)",
                            own.rank
                        );
                    });
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        };
        let io = |e: std::io::Error| TrainError::Nodes(format!("node 0 at {hub}: {e}"));
        stream.set_nodelay(true).map_err(io)?;
        stream
            .set_read_timeout(Some(GREETING_TIMEOUT))
            .map_err(io)?;
        own.write(&mut stream).map_err(io)?;
        let mut answer = [0u8; 1];
        stream.read_exact(&mut answer).map_err(io)?;
        stream.set_read_timeout(None).map_err(io)?;
        if answer[0] != 0 {
            return Err(TrainError::Nodes(format!(
                "node 0 at {hub} refused node {} (its log says why)",
                own.rank
            )));
        }
        tracing::info!(rank = own.rank, %hub, "joined node 0");
        Ok(Self {
            rank: own.rank,
            streams: vec![stream],
        })
    }

    /// Sums `values` over the nodes: the hub adds the other nodes' values to its own in
    /// rank order and sends the total to each. `tag` says what is summed (the trainer's:
    /// epoch, batch, images in the batch); every node must send the same.
    ///
    /// # Errors
    /// [`TrainError::Nodes`] when a socket fails or a node sends another tag or length.
    pub fn all_reduce_sum(&mut self, mut values: Vec<f32>, tag: [u64; 3]) -> Result<Vec<f32>> {
        let n = values.len();
        let fail = |rank: u32, e: std::io::Error| {
            TrainError::Nodes(format!("exchange with node {rank}: {e}"))
        };
        if self.rank == 0 {
            for (rank, stream) in (1..).zip(&mut self.streams) {
                let theirs = read_frame(stream, tag, n).map_err(|e| fail(rank, e))?;
                values.iter_mut().zip(theirs).for_each(|(v, t)| *v += t);
            }
            for (rank, stream) in (1..).zip(&mut self.streams) {
                write_frame(stream, tag, &values).map_err(|e| fail(rank, e))?;
            }
            Ok(values)
        } else {
            let stream = &mut self.streams[0];
            write_frame(stream, tag, &values).map_err(|e| fail(0, e))?;
            read_frame(stream, tag, n).map_err(|e| fail(0, e))
        }
    }
}

/// Says where node 0 listens, and warns when a host name resolved to a loopback address
/// (Debian maps a machine's own name to 127.0.1.1): other machines cannot reach that.
fn warn_if_loopback_only(listener: &TcpListener, hub: &str) {
    let Ok(address) = listener.local_addr() else {
        return;
    };
    let host = hub.rsplit_once(':').map_or(hub, |(host, _)| host);
    let literal = host
        .trim_matches(['[', ']'])
        .parse::<std::net::IpAddr>()
        .is_ok();
    if address.ip().is_loopback() && !literal && host != "localhost" {
        tracing::warn!(
            "--hub {hub} resolved to {address}, a loopback address: nodes on other machines \
             cannot reach it; give node 0's network address, or 0.0.0.0:PORT"
        );
    } else {
        tracing::info!("node 0 listens on {address}");
    }
}

/// A wait with a deadline that says, at its start and every [`Waiting::EVERY`], what it
/// waits for: no wait longer than a few seconds is silent.
struct Waiting {
    start: Instant,
    timeout: Duration,
    next_log: Duration,
}

impl Waiting {
    /// The interval between two lines of a long wait.
    const EVERY: Duration = Duration::from_secs(10);

    fn new(timeout: Duration) -> Self {
        Self {
            start: Instant::now(),
            timeout,
            next_log: Duration::ZERO,
        }
    }

    fn over(&self) -> bool {
        self.start.elapsed() > self.timeout
    }

    /// Calls `line(seconds waited, seconds left)` at the start and every [`Self::EVERY`].
    fn log(&mut self, line: impl FnOnce(u64, u64)) {
        let waited = self.start.elapsed();
        if waited >= self.next_log {
            self.next_log = waited + Self::EVERY;
            line(
                waited.as_secs(),
                self.timeout.saturating_sub(waited).as_secs(),
            );
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Hello {
    rank: u32,
    nodes: u32,
    workers: u32,
    fingerprint: u64,
}

impl Hello {
    fn write(&self, stream: &mut TcpStream) -> std::io::Result<()> {
        let mut bytes = MAGIC.to_vec();
        for v in [self.rank, self.nodes, self.workers] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(&self.fingerprint.to_le_bytes());
        stream.write_all(&bytes)
    }

    fn read(stream: &mut TcpStream) -> std::io::Result<Self> {
        let mut bytes = [0u8; 24];
        stream.read_exact(&mut bytes)?;
        if bytes[..4] != MAGIC {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a FineFACE node (wrong greeting)",
            ));
        }
        let word =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let mut fingerprint = [0u8; 8];
        fingerprint.copy_from_slice(&bytes[16..24]);
        Ok(Self {
            rank: word(4),
            nodes: word(8),
            workers: word(12),
            fingerprint: u64::from_le_bytes(fingerprint),
        })
    }
}

/// `[tag: 3 u64 LE][count: u64 LE][count f32 LE]`.
fn write_frame(stream: &mut TcpStream, tag: [u64; 3], values: &[f32]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(32 + 4 * values.len());
    for v in tag.into_iter().chain([values.len() as u64]) {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_waiting(stream, &bytes, Waiting::EVERY, &|| {
        format!("the sums of {}", exchange_name(tag))
    })
}

/// Writes `bytes` whole to `stream`, logging every `every` while the other node takes
/// nothing: a frame of gradients (100 MB for a ResNet-50) outgrows the socket's buffers, so
/// a sender waits as long as its peer is busy elsewhere, and says so.
fn write_waiting(
    stream: &mut TcpStream,
    bytes: &[u8],
    every: Duration,
    what: &dyn Fn() -> String,
) -> std::io::Result<()> {
    stream.set_write_timeout(Some(every))?;
    let peer = peer_name(stream);
    let start = Instant::now();
    let mut sent = 0;
    while sent < bytes.len() {
        match stream.write(&bytes[sent..]) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    ErrorKind::WriteZero,
                    "the connection closed (the other node stopped; its log says why)",
                ));
            }
            Ok(written) => sent += written,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                tracing::info!(
                    "waiting for {peer} to take {} ({} of {} bytes sent, {} s so far; no time \
                     limit: the other node may be validating or checkpointing)",
                    what(),
                    sent,
                    bytes.len(),
                    start.elapsed().as_secs()
                );
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    stream.set_write_timeout(None)
}

/// The other end of `stream`, for the log.
fn peer_name(stream: &TcpStream) -> String {
    stream
        .peer_addr()
        .map_or_else(|_| "the other node".to_owned(), |a| a.to_string())
}

/// What an exchange's tag stands for: `epoch 3 batch 10 (32 images)`.
fn exchange_name(tag: [u64; 3]) -> String {
    if tag == [u64::MAX; 3] {
        "the start-up weights".to_owned()
    } else {
        format!("epoch {} batch {} ({} images)", tag[0] + 1, tag[1], tag[2])
    }
}

/// Fills `buf` from `stream`, logging every `every` while nothing comes: a peer that is busy
/// (node 0 validating and checkpointing between epochs) or stalled is said, not waited on in
/// silence. There is no time limit: a peer process that stops closes its connection, which
/// ends the wait with an error; a peer machine that vanishes (power, network) is waited for,
/// aloud, until the run is stopped.
fn read_waiting(
    stream: &mut TcpStream,
    buf: &mut [u8],
    every: Duration,
    what: &dyn Fn() -> String,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(every))?;
    let peer = peer_name(stream);
    let start = Instant::now();
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the connection closed (the other node stopped; its log says why)",
                ));
            }
            Ok(read) => filled += read,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                tracing::info!(
                    "waiting for {} from {peer} ({} s so far; no time limit: the other node \
                     may be validating or checkpointing)",
                    what(),
                    start.elapsed().as_secs()
                );
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    stream.set_read_timeout(None)
}

/// Reads a frame that must carry `tag` and `n` values.
fn read_frame(stream: &mut TcpStream, tag: [u64; 3], n: usize) -> std::io::Result<Vec<f32>> {
    let mut header = [0u8; 32];
    read_waiting(stream, &mut header, Waiting::EVERY, &|| {
        format!("the sums of {}", exchange_name(tag))
    })?;
    let word = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&header[8 * i..8 * i + 8]);
        u64::from_le_bytes(b)
    };
    let (theirs, count) = ([word(0), word(1), word(2)], word(3));
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidData, message);
    if theirs != tag {
        return Err(invalid(format!(
            "it is at {}, this node at {} (resumed from another checkpoint, or other images \
             skipped?)",
            exchange_name(theirs),
            exchange_name(tag)
        )));
    }
    if count != n as u64 {
        return Err(invalid(format!(
            "it sent {count} values, this node has {n}"
        )));
    }
    let mut bytes = vec![0u8; 4 * n];
    stream.read_exact(&mut bytes)?;
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::{Mutex, PoisonError};

    use super::*;

    fn settings(nodes: u32, rank: u32, port: u16) -> HubSettings {
        HubSettings {
            nodes,
            rank,
            hub: format!("127.0.0.1:{port}"),
        }
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(0)
    }

    /// Connects `nodes` nodes of `workers[rank]` workers each, one thread a node, and runs
    /// `work` on each link.
    fn on_nodes<T: Send>(
        workers: &[usize],
        work: impl Fn(u32, NodeLink) -> T + Sync,
    ) -> Vec<Result<T>> {
        let port = free_port();
        let nodes = workers.len() as u32;
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..nodes)
                .map(|rank| {
                    let work = &work;
                    scope.spawn(move || {
                        NodeLink::connect(&settings(nodes, rank, port), workers[rank as usize], 7)
                            .map(|link| work(rank, link))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        })
    }

    #[test]
    fn three_nodes_sum_in_rank_order_and_all_get_the_total() {
        let results = on_nodes(&[2, 2, 2], |rank, mut link| {
            let mine = vec![rank as f32 + 1.0, 10.0 * (rank as f32 + 1.0), -0.5];
            let first = link.all_reduce_sum(mine.clone(), [0, 0, 8])?;
            let second = link.all_reduce_sum(mine, [0, 1, 8])?;
            Ok::<_, TrainError>((first, second))
        });
        for result in results {
            let (first, second) = result.unwrap().unwrap();
            assert_eq!(first, [6.0, 60.0, -1.5]);
            assert_eq!(second, first, "a second exchange works as the first");
        }
    }

    #[test]
    fn nodes_that_disagree_on_their_workers_are_refused() {
        let results = on_nodes(&[1, 2], |_, _| ());
        let messages: Vec<String> = results
            .into_iter()
            .map(|r| r.unwrap_err().to_string())
            .collect();
        assert!(
            messages[0].contains("runs 2 nodes of 2 workers, node 0 2 of 1"),
            "{messages:?}"
        );
        assert!(messages[1].contains("refused node 1"), "{messages:?}");
    }

    #[test]
    fn a_node_that_leaves_is_an_error_for_the_hub_not_a_wait() {
        let results = on_nodes(&[1, 1], |rank, mut link| {
            if rank == 1 {
                drop(link);
                return None;
            }
            Some(link.all_reduce_sum(vec![1.0, 2.0], [0, 0, 8]))
        });
        let hub = results[0].as_ref().unwrap().as_ref().unwrap();
        let message = hub.as_ref().unwrap_err().to_string();
        assert!(message.contains("exchange with node 1"), "{message}");
    }

    #[test]
    fn lengths_that_differ_are_refused() {
        let results = on_nodes(&[1, 1], |rank, mut link| {
            link.all_reduce_sum(vec![0.0; 2 + rank as usize], [0, 0, 8])
        });
        let message = results[0]
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("it sent 3 values, this node has 2"),
            "{message}"
        );
    }

    #[test]
    fn nodes_at_other_batches_are_refused() {
        // Node 1 resumed from an older checkpoint than node 0.
        let results = on_nodes(&[1, 1], |rank, mut link| {
            link.all_reduce_sum(vec![0.0; 2], [5 * u64::from(rank == 0), 0, 8])
        });
        let message = results[0]
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("it is at epoch 1 batch 0 (8 images), this node at epoch 6 batch 0"),
            "{message}"
        );
    }

    #[test]
    fn nodes_with_other_settings_are_refused() {
        let port = free_port();
        let results: Vec<Result<NodeLink>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..2u32)
                .map(|rank| {
                    scope.spawn(move || {
                        NodeLink::connect(&settings(2, rank, port), 1, u64::from(rank))
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let message = results[0].as_ref().unwrap_err().to_string();
        assert!(
            message.contains("trains other settings than node 0"),
            "{message}"
        );
    }

    /// What `work` logs at INFO and above, as text.
    fn logged<T>(work: impl FnOnce() -> T) -> (T, String) {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<Mutex<Vec<u8>>>);
        impl Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let result = tracing::subscriber::with_default(subscriber, work);
        let bytes = buffer
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        (result, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[test]
    fn a_wait_for_a_peer_says_what_it_waits_for_and_for_how_long() {
        let port = free_port();
        let timeout = Duration::from_millis(1500);
        // Node 0 whose node 1 never comes.
        let (result, log) =
            logged(|| NodeLink::connect_within(&settings(2, 0, port), 1, 7, timeout));
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains(&format!(
                "nodes [1] did not connect to 127.0.0.1:{port} within 1 s"
            )),
            "{message}"
        );
        assert!(
            log.contains(&format!(
                "node 0 waiting on 127.0.0.1:{port} for nodes [1] to connect (0 s so far, 1 s left)"
            )),
            "{log}"
        );
        // Node 1 whose node 0 never listens.
        let (result, log) =
            logged(|| NodeLink::connect_within(&settings(2, 1, port), 1, 7, timeout));
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains(&format!(
                "cannot reach node 0 at 127.0.0.1:{port} within 1 s"
            )),
            "{message}"
        );
        assert!(
            log.contains(&format!("node 1 waiting for node 0 at 127.0.0.1:{port} ("))
                && log.contains("0 s so far, 1 s left)"),
            "{log}"
        );
    }

    #[test]
    fn a_slow_peer_is_waited_for_aloud_and_its_bytes_arrive_whole() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(700));
            stream.write_all(&[1, 2, 3]).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            stream.write_all(&[4]).unwrap();
        });
        let mut stream = TcpStream::connect(address).unwrap();
        let mut bytes = [0u8; 4];
        let (result, log) = logged(|| {
            read_waiting(&mut stream, &mut bytes, Duration::from_millis(200), &|| {
                format!("the sums of {}", exchange_name([2, 7, 32]))
            })
        });
        result.unwrap();
        writer.join().unwrap();
        assert_eq!(bytes, [1, 2, 3, 4]);
        assert!(
            log.contains(&format!(
                "waiting for the sums of epoch 3 batch 7 (32 images) from {address} (0 s so far"
            )),
            "{log}"
        );
        // A peer that stops closes the connection: the wait ends with the reason.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let closer = std::thread::spawn(move || drop(listener.accept().unwrap()));
        let mut stream = TcpStream::connect(address).unwrap();
        closer.join().unwrap();
        let error = read_waiting(&mut stream, &mut bytes, Duration::from_millis(200), &|| {
            String::new()
        })
        .unwrap_err();
        assert!(
            error.to_string().contains("the connection closed"),
            "{error}"
        );
    }

    #[test]
    fn a_sender_whose_peer_takes_nothing_waits_aloud_and_its_bytes_arrive_whole() {
        // 16 MB: far more than the socket buffers hold, as a frame of gradients is.
        let bytes: Vec<u8> = (0..16 << 20).map(|i: u32| (i % 251) as u8).collect();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let reader = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(700));
            let mut received = Vec::new();
            stream.read_to_end(&mut received).unwrap();
            received
        });
        let mut stream = TcpStream::connect(address).unwrap();
        let (result, log) = logged(|| {
            write_waiting(&mut stream, &bytes, Duration::from_millis(200), &|| {
                "the sums of the start-up weights".to_owned()
            })
        });
        result.unwrap();
        drop(stream);
        assert!(
            reader.join().unwrap() == bytes,
            "the bytes arrive whole, in order"
        );
        assert!(
            log.contains(&format!(
                "waiting for {address} to take the sums of the start-up weights ("
            )) && log.contains(" bytes sent, 0 s so far"),
            "{log}"
        );
    }

    #[test]
    fn node_0_listens_where_the_hub_address_says_not_on_every_interface() {
        // 192.0.2.1 (TEST-NET-1) is no address of this machine: listening there fails and
        // says so, where binding 0.0.0.0 would have listened on every interface.
        let node0 = HubSettings {
            nodes: 2,
            rank: 0,
            hub: "192.0.2.1:29500".to_owned(),
        };
        let message = NodeLink::connect_within(&node0, 1, 7, Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("node 0 cannot listen on 192.0.2.1:29500 (--hub): ")
                && message.contains("name an address of this machine (0.0.0.0:PORT"),
            "{message}"
        );
        // On loopback it listens on loopback alone, and nodes join there.
        let results = on_nodes(&[1, 1], |rank, mut link| {
            link.all_reduce_sum(vec![rank as f32], [0, 0, 1])
        });
        for result in results {
            assert_eq!(result.unwrap().unwrap(), [1.0]);
        }
    }
}
