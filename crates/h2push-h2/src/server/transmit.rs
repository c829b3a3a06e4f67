//! What a server connection writes, and in which order.
//!
//! This module owns the output side: control frames and heads are written into one buffer
//! as they are made (so HPACK's order is the wire's), and [`Connection::transmit`] adds the
//! DATA of streams with queued bytes, picked by the RFC 9218 scheduler, each chunk within
//! the stream's and the connection's send windows (§6.9) and the peer's max frame size.
//! Small payloads are copied into the same buffer, so a batch is one write; large ones are
//! handed out as the application's own `Bytes`, after their 9-octet frame header. The
//! order itself is `priority`'s; the windows are `state`'s.

use bytes::{Bytes, BytesMut};

use super::Connection;
use crate::frame::StreamId;

/// DATA payloads up to this size are copied into the frame buffer; larger ones are passed
/// on as they are.
const COPY_AT_MOST: usize = 4096;

/// The frames written and not yet taken by [`Connection::transmit`].
#[derive(Debug, Default)]
pub(crate) struct Outgoing {
    buf: BytesMut,
}

impl Outgoing {
    pub(crate) fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn flush(&mut self, dst: &mut Vec<Bytes>) -> usize {
        if self.buf.is_empty() {
            return 0;
        }
        let b = self.buf.split().freeze();
        let n = b.len();
        dst.push(b);
        n
    }
}

impl Connection {
    /// Appends to `dst` everything to write now: frames already made, then DATA of the
    /// streams with queued bytes in priority order, up to about `budget` bytes of DATA (a
    /// small budget keeps the socket's queue short, so a more urgent response is not stuck
    /// behind a large one). Returns the bytes appended. Write them in order.
    pub fn transmit(&mut self, dst: &mut Vec<Bytes>, budget: usize) -> usize {
        let mut written = 0;
        let mut budget = budget;
        while budget > 0 {
            let Some(id) = self.scheduler.next() else {
                break;
            };
            let sent = self.write_stream(id, budget, dst, &mut written);
            budget = budget.saturating_sub(sent);
        }
        written + self.out.flush(dst)
    }

    /// Whether [`Connection::transmit`] has something to write.
    pub fn wants_transmit(&self) -> bool {
        !self.out.is_empty() || self.scheduler.next().is_some()
    }

    /// Writes one chunk of `id`'s queue (or its end); returns the DATA bytes written.
    fn write_stream(
        &mut self,
        id: StreamId,
        budget: usize,
        dst: &mut Vec<Bytes>,
        written: &mut usize,
    ) -> usize {
        let capacity = self.streams.send_capacity(id) as usize;
        let max_frame = self.encoder.max_frame_size() as usize;
        let Some(out) = self.sending.get_mut(&id) else {
            self.scheduler.remove(id);
            return 0;
        };
        if out.data.is_empty() {
            if let Some(trailers) = out.trailers.take() {
                if self.streams.send_trailers(id).is_ok() {
                    self.block.clear();
                    self.hpack_enc.encode_trailers(&trailers, &mut self.block);
                    self.encoder.headers(self.out.buf(), id, &self.block, true);
                }
                self.ended(id);
            } else if out.end {
                if self.streams.send_data(id, 0, true).is_ok() {
                    self.encoder.data(self.out.buf(), id, &[], true);
                }
                self.ended(id);
            } else {
                self.scheduler.set_ready(id, false);
            }
            return 0;
        }
        if capacity == 0 {
            // Waiting for WINDOW_UPDATE (see recv.rs, window_opened).
            self.scheduler.set_ready(id, false);
            return 0;
        }
        let Some(front) = out.data.front_mut() else {
            return 0;
        };
        let n = front.len().min(capacity).min(max_frame).min(budget.max(1));
        let chunk = front.split_to(n);
        if front.is_empty() {
            out.data.pop_front();
        }
        out.queued -= n;
        let last = out.data.is_empty() && out.end && out.trailers.is_none();
        if self.streams.send_data(id, n as u32, last).is_err() {
            self.forget(id);
            return 0;
        }
        if n <= COPY_AT_MOST {
            self.encoder.data(self.out.buf(), id, &chunk, last);
        } else {
            self.encoder.data_head(self.out.buf(), id, n, last);
            *written += self.out.flush(dst);
            *written += n;
            dst.push(chunk);
        }
        self.scheduler.sent(id, n);
        if last {
            self.ended(id);
        }
        n
    }
}
