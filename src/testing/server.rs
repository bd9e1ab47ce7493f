//! The HTTP server: its own thread and Tokio runtime, one loopback port, and
//! the dispatch of each request to a protocol, through the faults.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Duration;

use http::header::{CONTENT_LENGTH, DATE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Bytes, Frame, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::oneshot;

use super::faults::{Call, Fault, Protocol};
use super::record::RecordedRequest;
use super::state::Shared;
use super::wire::{Incoming, MAX_REQUEST_BODY, Reply, html_500, http_date};
use super::{ecs, imds, sso, sts};

/// The running server: dropping it stops the server and joins its thread.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` and serves on a new thread. Returns once the server
    /// accepts connections.
    pub(crate) fn start(addr: SocketAddr, shared: Arc<Shared>) -> io::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let (stop_tx, stop_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name(format!("credrefresh-emulator-{}", addr.port()))
            .spawn(move || {
                // The runtime is built, used and dropped on this thread only,
                // so the emulator can be started and dropped from any context,
                // async or not. Dropping it cancels every connection task.
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    accept_loop(listener, shared, stop_rx).await;
                });
            })?;
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the emulator thread ended before serving")));
        let mut server = Self {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match ready {
            Ok(()) => Ok(server),
            Err(e) => {
                server.shutdown();
                Err(e)
            }
        }
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(serve_connection(stream, shared.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly
                    // instead of spinning.
                    tracing::debug!(target: "credrefresh::testing", error = %e, "emulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let read_timeout = shared.config.read_timeout;
    let service = service_fn(move |req| respond(shared.clone(), req));
    // The timer makes hyper close a connection whose request headers do not
    // arrive within the read timeout (a slow or stuck client).
    if let Err(e) = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::trace!(target: "credrefresh::testing", error = %e, "emulator: connection ended");
    }
}

/// The service's error: makes hyper close the connection without answering.
#[derive(Debug)]
struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DropConnection {}

/// The body cut short by [`Fault::TruncatedBody`].
#[derive(Debug)]
pub(crate) struct BodyCut;

impl fmt::Display for BodyCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("body truncated by an injected fault")
    }
}

impl std::error::Error for BodyCut {}

/// A response body: whole, or cut after a part. No `Debug`: it may carry
/// secrets.
pub(crate) enum EmuBody {
    /// The whole body, taken when sent.
    Full(Option<Bytes>),
    /// `part` is sent, the writer is given a chance to flush it, then the
    /// body fails and hyper closes the connection.
    Cut {
        part: Option<Bytes>,
        declared: u64,
        flushed: bool,
    },
}

impl Body for EmuBody {
    type Data = Bytes;
    type Error = BodyCut;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyCut>>> {
        match self.get_mut() {
            EmuBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            EmuBody::Cut { part, flushed, .. } => {
                if let Some(part) = part.take() {
                    Poll::Ready(Some(Ok(Frame::data(part))))
                } else if !*flushed {
                    // Yield once so hyper flushes what was written.
                    *flushed = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                } else {
                    Poll::Ready(Some(Err(BodyCut)))
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, EmuBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            EmuBody::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            EmuBody::Cut { declared, .. } => SizeHint::with_exact(*declared),
        }
    }
}

fn into_response(reply: Reply, cut: bool) -> Response<EmuBody> {
    let declared = reply.body.len() as u64;
    let body = if cut {
        EmuBody::Cut {
            part: Some(reply.body.slice(..reply.body.len() / 2)),
            declared,
            flushed: false,
        }
    } else {
        EmuBody::Full(Some(reply.body))
    };
    let mut response = Response::new(body);
    *response.status_mut() = reply.status;
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        headers.append(name, value);
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(declared));
    response
}

fn parse_params(query: Option<&str>, headers: &http::HeaderMap, body: &[u8]) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = query
        .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_form = content_type.is_empty()
        || content_type
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded");
    if is_form && !body.is_empty() {
        params.extend(url::form_urlencoded::parse(body).into_owned());
    }
    params
}

/// Which call a request is, or the answer to give when it is none.
fn route(req: &Incoming) -> Result<Call, Reply> {
    if let Some(sts) = sts::route(req) {
        return sts;
    }
    if let Some(imds) = imds::route(req) {
        return imds.ok_or_else(imds::not_found);
    }
    if let Some(call) = ecs::route(req) {
        return Ok(call);
    }
    if let Some(call) = sso::route(req) {
        return Ok(call);
    }
    Err(Reply::new(StatusCode::NOT_FOUND, "text/plain", "Not Found"))
}

/// The normal answer to `call`.
fn serve(shared: &Shared, call: Call, req: &Incoming, expired: bool) -> Reply {
    match call.protocol() {
        Protocol::Sts => sts::handle(shared, call, req, expired),
        Protocol::Imds => imds::handle(shared, call, req, expired),
        Protocol::Ecs => ecs::handle(shared, req, expired),
        Protocol::SsoOidc | Protocol::SsoPortal => sso::handle(shared, call, req, expired),
    }
}

async fn respond(
    shared: Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<EmuBody>, DropConnection> {
    let mut response = answer(&shared, req).await?;
    // The emulator's (possibly skewed) time, in place of hyper's own `Date`.
    if let Some(date) = http_date(shared.now()).and_then(|d| HeaderValue::from_str(&d).ok()) {
        response.headers_mut().insert(DATE, date);
    }
    Ok(response)
}

async fn answer(
    shared: &Arc<Shared>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<EmuBody>, DropConnection> {
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(
        shared.config.read_timeout,
        Limited::new(body, MAX_REQUEST_BODY).collect(),
    );
    let body = match read.await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            let reply = Reply::new(StatusCode::PAYLOAD_TOO_LARGE, "text/plain", "Request body too large");
            return Ok(into_response(reply, false));
        }
        // A body that failed, or did not arrive within the read timeout.
        Ok(Err(_)) | Err(_) => return Err(DropConnection),
    };
    let req = Incoming {
        params: parse_params(parts.uri.query(), &parts.headers, &body),
        method: parts.method,
        path: parts.uri.path().to_string(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let call = match route(&req) {
        Ok(call) => call,
        Err(reply) => {
            tracing::debug!(target: "credrefresh::testing", method = %req.method, path = %req.path, status = reply.status.as_u16(), "emulator: unrouted request");
            return Ok(into_response(reply, false));
        }
    };
    let recorded = RecordedRequest {
        method: req.method.to_string(),
        path: req.path.clone(),
        headers: req
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        params: req.params.clone(),
        body: req.body.clone(),
    };
    let fault = shared.record(call, recorded);
    // Request line, call and fault only: headers, parameters and bodies
    // may carry secrets.
    tracing::debug!(target: "credrefresh::testing", method = %req.method, path = %req.path, ?call, fault = ?fault.as_ref().map(fault_name), "emulator: request");

    let protocol = call.protocol();
    let (reply, cut) = match fault {
        None => (serve(shared, call, &req, false), false),
        Some(Fault::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            (serve(shared, call, &req, false), false)
        }
        Some(Fault::Hang) => match std::future::pending::<Infallible>().await {},
        Some(Fault::DropConnection) => return Err(DropConnection),
        Some(Fault::TruncatedBody) => (serve(shared, call, &req, false), true),
        Some(Fault::ExpiredCredentials) => (serve(shared, call, &req, true), false),
        Some(Fault::Html500) => (html_500(), false),
        Some(Fault::AwsError { status, code, message }) => {
            let reply = match protocol {
                Protocol::Sts => sts::error(status, &code, &message),
                Protocol::Imds => imds::error(shared, call, status, &code, &message),
                Protocol::Ecs => ecs::error(status, &code, &message),
                Protocol::SsoOidc | Protocol::SsoPortal => sso::error(call, status, &code, &message),
            };
            (reply, false)
        }
        Some(Fault::Throttle) => {
            let reply = match protocol {
                Protocol::Sts => sts::throttle(),
                Protocol::Imds => imds::throttle(),
                Protocol::Ecs => ecs::throttle(),
                Protocol::SsoOidc | Protocol::SsoPortal => sso::throttle(call),
            };
            (reply, false)
        }
        Some(Fault::MalformedBody) => {
            let reply = match protocol {
                Protocol::Sts => sts::malformed(call),
                Protocol::Imds => imds::malformed(call),
                Protocol::Ecs => ecs::malformed(),
                Protocol::SsoOidc | Protocol::SsoPortal => sso::malformed(call),
            };
            (reply, false)
        }
    };
    Ok(into_response(reply, cut))
}

/// A fault's name for logs (an `AwsError`'s message is left out).
fn fault_name(fault: &Fault) -> &'static str {
    match fault {
        Fault::AwsError { .. } => "AwsError",
        Fault::Throttle => "Throttle",
        Fault::Delay(_) => "Delay",
        Fault::DropConnection => "DropConnection",
        Fault::TruncatedBody => "TruncatedBody",
        Fault::MalformedBody => "MalformedBody",
        Fault::Html500 => "Html500",
        Fault::ExpiredCredentials => "ExpiredCredentials",
        Fault::Hang => "Hang",
    }
}
