//! The agent's HTTP/1 listeners, on hyper.
//!
//! hyper enforces the head cap (431, from its buffer limit) and the head
//! read timeout; it closes a timed-out connection without a word, so the
//! connection's I/O wrapper sends the `408 Request Timeout` itself when the
//! client had started a request that never finished. The number of
//! connections served at once is capped; one more is closed at once and
//! counted.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::agent::routes::respond;
use crate::agent::state::{AgentState, Endpoint};

const REQUEST_TIMEOUT_RESPONSE: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n";

/// Accepts connections on `listener` until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    endpoint: Endpoint,
    state: Arc<AgentState>,
    connections: Arc<Semaphore>,
    mut stop: watch::Receiver<bool>,
) {
    let for_connections = stop.clone();
    loop {
        tokio::select! {
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(permit) = connections.clone().try_acquire_owned() else {
                        state.refused.with_label_values(&["too_many_connections"]).inc();
                        drop(stream);
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    let state = state.clone();
                    let stop = for_connections.clone();
                    tokio::spawn(async move {
                        connection(stream, peer, endpoint, state, stop).await;
                        drop(permit);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly
                    // instead of spinning.
                    tracing::warn!(target: "credrefresh::agent", error = %e, "agent: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Resolves once the agent is stopping (or gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    endpoint: Endpoint,
    state: Arc<AgentState>,
    mut stop: watch::Receiver<bool>,
) {
    let timed_out = Arc::new(AtomicBool::new(false));
    let io = Tracked {
        stream,
        pending: false,
        timed_out: timed_out.clone(),
        timeouts: state.refused.with_label_values(&["timeout"]),
    };
    let limits = state.limits.clone();
    let for_service = state.clone();
    let service = service_fn(move |req| {
        let state = for_service.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(&state, endpoint, peer.ip(), req).await) }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_timeout)
        .max_buf_size(limits.max_header_bytes)
        .max_headers(100)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stopped(&mut stop) => return,
    };
    if let Err(e) = result {
        if e.is_timeout() {
            // The wrapper answers 408 when it is dropped, if a request had begun.
            timed_out.store(true, Ordering::Relaxed);
        }
        tracing::trace!(target: "credrefresh::agent", error = %e, "agent: connection ended");
    }
}

/// The connection's stream, remembering whether a request has begun
/// (bytes read since the last write).
struct Tracked {
    stream: TcpStream,
    pending: bool,
    timed_out: Arc<AtomicBool>,
    timeouts: prometheus::IntCounter,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.pending && self.timed_out.load(Ordering::Relaxed) {
            // A best effort: the socket buffer is empty, the answer small.
            let _ = self.stream.try_write(REQUEST_TIMEOUT_RESPONSE);
            self.timeouts.inc();
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.pending = true;
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.pending = false;
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.pending = false;
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
