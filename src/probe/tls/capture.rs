//! A transparent stream wrapper that keeps a bounded copy of the first bytes the server sent,
//! so a failed handshake can still be explained (an alert, a legacy ServerHello, an SSH banner).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// At most this many received bytes are kept (a large certificate chain fits).
pub const CAPTURE_LIMIT: usize = 64 * 1024;

/// Bytes received so far, shared with the prober so they survive a timeout.
pub type Captured = Arc<Mutex<Vec<u8>>>;

/// The stream under a TLS session, recording the first [`CAPTURE_LIMIT`] bytes read until
/// [`Tap::stop_capture`]; afterwards a plain pass-through.
#[derive(Debug)]
pub struct Tap<S> {
    inner: S,
    capture: Option<Captured>,
}

impl<S> Tap<S> {
    /// Wraps `inner`, recording into a fresh buffer (returned too).
    pub fn new(inner: S) -> (Tap<S>, Captured) {
        let captured = Captured::default();
        let tap = Tap {
            inner,
            capture: Some(captured.clone()),
        };
        (tap, captured)
    }

    /// Stops recording (the handshake is over).
    pub fn stop_capture(&mut self) {
        self.capture = None;
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the stream.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// A copy of the captured bytes.
pub fn snapshot(captured: &Captured) -> Vec<u8> {
    captured
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(capture)) = (&result, &this.capture) {
            let fresh = &buf.filled()[before..];
            let mut kept = capture
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let room = CAPTURE_LIMIT.saturating_sub(kept.len());
            kept.extend_from_slice(&fresh[..fresh.len().min(room)]);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
