//! A plugin's stdout and stderr: kept up to a limit, the rest counted and dropped. A plugin
//! that prints without end neither fills the host's memory nor fails because it printed.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// What one stream has captured.
#[derive(Debug, Default)]
struct Captured {
    kept: Vec<u8>,
    dropped: u64,
}

/// One captured stream. Clones share the capture.
#[derive(Debug, Clone)]
pub(super) struct BoundedPipe {
    captured: Arc<Mutex<Captured>>,
    limit: usize,
}

impl BoundedPipe {
    /// A pipe that keeps the first `limit` bytes written to it.
    pub(super) fn new(limit: usize) -> Self {
        Self {
            captured: Arc::default(),
            limit,
        }
    }

    fn captured(&self) -> std::sync::MutexGuard<'_, Captured> {
        self.captured.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps what fits; every byte is accepted.
    fn write(&self, bytes: &[u8]) {
        let mut captured = self.captured();
        let room = self.limit.saturating_sub(captured.kept.len());
        let kept = bytes.len().min(room);
        captured.kept.extend_from_slice(&bytes[..kept]);
        captured.dropped += (bytes.len() - kept) as u64;
    }

    /// What was kept, decoded lossily, and how many bytes were dropped.
    pub(super) fn contents(&self) -> (String, u64) {
        let captured = self.captured();
        (
            String::from_utf8_lossy(&captured.kept).into_owned(),
            captured.dropped,
        )
    }
}

impl IsTerminal for BoundedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for BoundedPipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BoundedPipe {
    /// Always ready: writes never wait.
    async fn ready(&mut self) {}
}

impl OutputStream for BoundedPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        BoundedPipe::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        // Always room: what does not fit is dropped, not refused.
        Ok(64 << 10)
    }
}

impl tokio::io::AsyncWrite for BoundedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        BoundedPipe::write(&self, buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_past_the_limit_is_counted_and_dropped() {
        let pipe = BoundedPipe::new(5);
        let mut stream = pipe.p2_stream();
        stream.write(bytes::Bytes::from_static(b"abc")).unwrap();
        stream.write(bytes::Bytes::from_static(b"defg")).unwrap();
        assert_eq!(stream.check_write().unwrap(), 64 << 10);
        pipe.write(b"hij");
        assert_eq!(pipe.contents(), ("abcde".to_string(), 5));
    }
}
