//! Subscriptions per connection: a counter per client connection, and the slot a stream holds.
//!
//! This file owns [`ConnLimiter`], which the `/events` and Mercure endpoints use to refuse a
//! subscription past a per-connection limit (HTTP/2 multiplexes many streams on one
//! connection; its own stream limit is the server's and may be large). A connection is known
//! by the client's address and port from the request's [`crate::PeerAddr`] extension; a
//! request without one (a service called directly) is not counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Counts the open subscriptions of each connection.
#[derive(Debug)]
pub(crate) struct ConnLimiter {
    max: usize,
    open: Arc<Mutex<HashMap<SocketAddr, usize>>>,
}

/// One open subscription on a connection; dropping it frees the slot.
#[derive(Debug)]
pub(crate) struct ConnSlot {
    addr: SocketAddr,
    open: Arc<Mutex<HashMap<SocketAddr, usize>>>,
}

impl ConnLimiter {
    pub fn new(max: usize) -> ConnLimiter {
        ConnLimiter {
            max,
            open: Arc::default(),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// A slot for a subscription of the request with `extensions`: `Ok(None)` when the
    /// connection is unknown, `Err(())` when it already has the maximum.
    pub fn acquire(&self, extensions: &http::Extensions) -> Result<Option<ConnSlot>, ()> {
        let Some(crate::PeerAddr(addr)) = extensions.get::<crate::PeerAddr>().copied() else {
            return Ok(None);
        };
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(addr).or_insert(0);
        if *n >= self.max {
            return Err(());
        }
        *n += 1;
        Ok(Some(ConnSlot {
            addr,
            open: self.open.clone(),
        }))
    }
}

impl Drop for ConnSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_connection_and_frees_on_drop() {
        let lim = ConnLimiter::new(2);
        let mut a = http::Extensions::new();
        a.insert(crate::PeerAddr("127.0.0.1:1000".parse().unwrap()));
        let mut b = http::Extensions::new();
        b.insert(crate::PeerAddr("127.0.0.1:1001".parse().unwrap()));
        let s1 = lim.acquire(&a).unwrap();
        let _s2 = lim.acquire(&a).unwrap();
        assert!(lim.acquire(&a).is_err());
        assert!(lim.acquire(&b).unwrap().is_some());
        drop(s1);
        assert!(lim.acquire(&a).unwrap().is_some());
        assert!(lim.acquire(&http::Extensions::new()).unwrap().is_none());
        drop(_s2);
    }
}
