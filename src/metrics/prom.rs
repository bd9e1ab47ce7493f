//! The same series in a `prometheus::Registry`, read at scrape time.

use std::sync::Arc;
use std::time::SystemTime;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{Encoder, Registry, TextEncoder};

use super::series::{
    ALL, CHAIN_SOURCE, CONSECUTIVE_FAILURES, CREDENTIALS_EXPIRES_IN, CREDENTIALS_EXPIRY, CREDENTIALS_EXTENDED,
    CREDENTIALS_UNUSABLE, EXTENSIONS, INVALIDATIONS, Kind, LAST_SUCCESS, NEXT_REFRESH, NO_ERROR, REFRESH_ATTEMPTS,
    REFRESH_DURATION, RESULT_FAILURE, RESULT_SUCCESS, ROLE_INFO, SUPERVISOR_RESTARTS, Series,
};
use super::stats::{DURATION_BUCKETS, HistogramValues};
use crate::clock::{Clock, unix_seconds};
use crate::error::ErrorClass;
use crate::handle::{CredentialsHandle, CredentialsState};

/// The `Content-Type` of [`render`]'s output (Prometheus text format 0.0.4).
pub const TEXT_CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// Renders every series of `registry` in the Prometheus text exposition
/// format, for a server's `/metrics` answer (with [`TEXT_CONTENT_TYPE`]).
///
/// # Errors
/// The encoder's error, which only a collector producing a nameless metric
/// family can cause (credrefresh's never does).
pub fn render(registry: &Registry) -> Result<String, prometheus::Error> {
    let mut buf = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut buf)?;
    String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
}

/// A `prometheus` [`Collector`] of every credrefresh series.
///
/// At each scrape it reads every role's latest snapshot and counters, so
/// time-dependent values (seconds until expiry) are computed from the time
/// of the scrape, on the refresher's clock. Roles added with
/// [`Refresher::add_role`](crate::Refresher::add_role) appear from the next
/// scrape; removed roles disappear. It keeps no state of its own: counters
/// live with the roles and survive restarts of their refreshers. Cloning it
/// is cheap; it may outlive the refresher (it then shows the last values
/// published).
///
/// Made by [`PrometheusCollector::new`] from a [`Refresher`](crate::Refresher),
/// or by [`Refresher::prometheus_registry`](crate::Refresher::prometheus_registry).
#[derive(Clone)]
pub struct PrometheusCollector {
    roles: Roles,
    clock: Arc<dyn Clock>,
    descs: Arc<Vec<Desc>>,
}

impl std::fmt::Debug for PrometheusCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusCollector")
            .field("roles", &(self.roles)().len())
            .finish_non_exhaustive()
    }
}

/// Lists the roles to collect, called at each scrape.
pub(crate) type Roles = Arc<dyn Fn() -> Vec<CredentialsHandle> + Send + Sync>;

impl PrometheusCollector {
    /// A collector of the roles `roles` lists at each scrape, with
    /// time-dependent values computed on `clock`.
    pub(crate) fn listing(roles: Roles, clock: Arc<dyn Clock>) -> Self {
        // The names and labels are constants checked by the tests, so every
        // description is valid.
        let descs = ALL
            .iter()
            .filter_map(|s| {
                let labels = s.labels.iter().map(|l| (*l).to_string()).collect();
                Desc::new(s.name.to_string(), s.help.to_string(), labels, Default::default()).ok()
            })
            .collect();
        Self {
            roles,
            clock,
            descs: Arc::new(descs),
        }
    }
}

/// One family being filled.
struct Family {
    series: &'static Series,
    metrics: Vec<proto::Metric>,
}

impl Family {
    fn new(series: &'static Series) -> Self {
        Self {
            series,
            metrics: Vec::new(),
        }
    }

    fn metric(&mut self, labels: &[&str]) -> &mut proto::Metric {
        debug_assert_eq!(labels.len(), self.series.labels.len(), "{}", self.series.name);
        let pairs = self
            .series
            .labels
            .iter()
            .zip(labels)
            .map(|(name, value)| {
                let mut pair = proto::LabelPair::default();
                pair.set_name((*name).to_string());
                pair.set_value((*value).to_string());
                pair
            })
            .collect();
        self.metrics.push(proto::Metric::from_label(pairs));
        self.metrics.last_mut().expect("pushed above")
    }

    fn counter(&mut self, labels: &[&str], value: u64) {
        debug_assert_eq!(self.series.kind, Kind::Counter);
        let mut c = proto::Counter::default();
        // Precision: exact up to 2^53 events.
        c.set_value(value as f64);
        self.metric(labels).set_counter(c);
    }

    fn gauge(&mut self, labels: &[&str], value: f64) {
        debug_assert_eq!(self.series.kind, Kind::Gauge);
        let mut g = proto::Gauge::default();
        g.set_value(value);
        self.metric(labels).set_gauge(g);
    }

    fn histogram(&mut self, labels: &[&str], values: &HistogramValues) {
        debug_assert_eq!(self.series.kind, Kind::Histogram);
        let mut h = proto::Histogram::default();
        h.set_sample_count(values.count);
        h.set_sample_sum(values.sum);
        let buckets = DURATION_BUCKETS
            .iter()
            .zip(values.cumulative)
            .map(|(&bound, count)| {
                let mut b = proto::Bucket::default();
                b.set_upper_bound(bound);
                b.set_cumulative_count(count);
                b
            })
            .collect();
        h.set_bucket(buckets);
        self.metric(labels).set_histogram(h);
    }

    fn into_proto(self) -> MetricFamily {
        let mut mf = MetricFamily::default();
        mf.set_name(self.series.name.to_string());
        mf.set_help(self.series.help.to_string());
        mf.set_field_type(match self.series.kind {
            Kind::Counter => MetricType::COUNTER,
            Kind::Gauge => MetricType::GAUGE,
            Kind::Histogram => MetricType::HISTOGRAM,
        });
        mf.set_metric(self.metrics);
        mf
    }
}

fn flag(on: bool) -> f64 {
    f64::from(u8::from(on))
}

fn seconds_between(from: SystemTime, to: SystemTime) -> f64 {
    unix_seconds(to) - unix_seconds(from)
}

impl Collector for PrometheusCollector {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let handles = (self.roles)();
        let now = self.clock.now();
        let mut attempts = Family::new(&REFRESH_ATTEMPTS);
        let mut duration = Family::new(&REFRESH_DURATION);
        let mut expiry = Family::new(&CREDENTIALS_EXPIRY);
        let mut expires_in = Family::new(&CREDENTIALS_EXPIRES_IN);
        let mut extended = Family::new(&CREDENTIALS_EXTENDED);
        let mut unusable = Family::new(&CREDENTIALS_UNUSABLE);
        let mut extensions = Family::new(&EXTENSIONS);
        let mut failures = Family::new(&CONSECUTIVE_FAILURES);
        let mut last_success = Family::new(&LAST_SUCCESS);
        let mut next_refresh = Family::new(&NEXT_REFRESH);
        let mut restarts = Family::new(&SUPERVISOR_RESTARTS);
        let mut invalidations = Family::new(&INVALIDATIONS);
        let mut info = Family::new(&ROLE_INFO);
        let mut chain = Family::new(&CHAIN_SOURCE);

        for handle in handles {
            let snapshot = handle.load_full();
            let shared = &handle.shared;
            let stats = &shared.stats;
            let (role, source) = (snapshot.role(), snapshot.source());
            let rs = [role, source];

            attempts.counter(&[role, source, RESULT_SUCCESS, NO_ERROR], stats.successes());
            for class in ErrorClass::ALL {
                attempts.counter(&[role, source, RESULT_FAILURE, class.as_str()], stats.failures(class));
            }
            duration.histogram(&[role, source, RESULT_SUCCESS], &stats.durations(true));
            duration.histogram(&[role, source, RESULT_FAILURE], &stats.durations(false));
            if let Some(exp) = snapshot.credentials().and_then(|c| c.expiry()) {
                expiry.gauge(&rs, unix_seconds(exp));
                expires_in.gauge(&rs, seconds_between(now, exp));
            }
            extended.gauge(&rs, flag(snapshot.state() == CredentialsState::Extended));
            unusable.gauge(&rs, flag(!snapshot.state().is_usable()));
            extensions.counter(&rs, stats.extensions());
            failures.gauge(&rs, f64::from(snapshot.consecutive_failures()));
            if let Some(t) = snapshot.last_success() {
                last_success.gauge(&rs, unix_seconds(t));
            }
            if let Some(t) = snapshot.next_refresh() {
                next_refresh.gauge(&rs, unix_seconds(t));
            }
            restarts.counter(&rs, stats.restarts());
            invalidations.counter(&rs, shared.invalidations.load(std::sync::atomic::Ordering::Relaxed));
            info.gauge(&rs, 1.0);
            if let Some(chosen) = snapshot.rare().resolved_source {
                chain.gauge(&[role, source, chosen], 1.0);
            }
        }

        [
            attempts,
            duration,
            expiry,
            expires_in,
            extended,
            unusable,
            extensions,
            failures,
            last_success,
            next_refresh,
            restarts,
            invalidations,
            info,
            chain,
        ]
        .into_iter()
        .map(Family::into_proto)
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;

    fn no_roles() -> PrometheusCollector {
        PrometheusCollector::listing(Arc::new(Vec::new), Arc::new(SystemClock))
    }

    #[test]
    fn every_series_has_a_valid_description() {
        let collector = no_roles();
        assert_eq!(collector.desc().len(), ALL.len());
        let names: Vec<_> = collector.desc().iter().map(|d| d.fq_name.clone()).collect();
        assert_eq!(names, ALL.iter().map(|s| s.name).collect::<Vec<_>>());
        // The registry accepts it once, and refuses the same series twice.
        let registry = Registry::new();
        registry.register(Box::new(collector.clone())).unwrap();
        assert!(registry.register(Box::new(collector)).is_err());
    }

    #[test]
    fn collect_covers_every_series_of_the_table() {
        let families = no_roles().collect();
        let names: Vec<_> = families.iter().map(|f| f.name().to_string()).collect();
        assert_eq!(names, ALL.iter().map(|s| s.name).collect::<Vec<_>>());
        // No roles, no series: the registry prunes the empty families.
        let registry = Registry::new();
        registry.register(Box::new(no_roles())).unwrap();
        assert_eq!(render(&registry).unwrap(), "");
    }
}
