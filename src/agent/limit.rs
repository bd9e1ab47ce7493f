//! Per-client rate limits: a token bucket per client IP address.
//!
//! Each IP has `burst` requests in hand and earns `rate` more per second.
//! The table is bounded: when it is full, buckets that have refilled (idle
//! clients) are forgotten first; if none has, the oldest half is dropped, so
//! a flood from many addresses costs bounded memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::SystemTime;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: SystemTime,
}

/// The buckets of every client IP.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    pub(crate) fn new(rate: f64, burst: u32, max_clients: usize) -> Self {
        Self {
            rate,
            burst: f64::from(burst),
            max_clients,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refill(&self, bucket: &mut Bucket, now: SystemTime) {
        // A clock that stepped back refills nothing.
        let elapsed = now.duration_since(bucket.last).map_or(0.0, |d| d.as_secs_f64());
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        if now > bucket.last {
            bucket.last = now;
        }
    }

    /// Takes one request from `ip`'s bucket: `false` when it is empty.
    pub(crate) fn allow(&self, ip: IpAddr, now: SystemTime) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !buckets.contains_key(&ip) && buckets.len() >= self.max_clients {
            self.evict(&mut buckets, now);
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn evict(&self, buckets: &mut HashMap<IpAddr, Bucket>, now: SystemTime) {
        buckets.retain(|_, b| {
            let mut b = *b;
            self.refill(&mut b, now);
            b.tokens < self.burst
        });
        if buckets.len() >= self.max_clients {
            let mut ages: Vec<SystemTime> = buckets.values().map(|b| b.last).collect();
            ages.sort_unstable();
            let cut = ages.get(ages.len() / 2).copied();
            if let Some(cut) = cut {
                buckets.retain(|_, b| b.last > cut);
            }
        }
    }

    /// How many client IPs are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_empties_and_refills_per_client() {
        let limiter = RateLimiter::new(2.0, 3, 16);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limiter.allow(a, t0)));
        assert!(!limiter.allow(a, t0));
        assert!(limiter.allow(b, t0), "another client keeps its own bucket");
        assert!(!limiter.allow(a, t0 + Duration::from_millis(400)));
        assert!(limiter.allow(a, t0 + Duration::from_millis(500)));
        // A clock stepping back refills nothing and does not panic.
        assert!(!limiter.allow(a, t0));
    }

    #[test]
    fn the_table_stays_bounded() {
        let limiter = RateLimiter::new(1.0, 1, 8);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        for i in 0..100u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            assert!(limiter.allow(ip, t0 + Duration::from_millis(u64::from(i))));
            assert!(limiter.len() <= 8);
        }
    }
}
