//! Prometheus metrics, all prefixed `convene_`, served as text at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabel {
    pub code: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub connections: Gauge,
    pub conventions: Gauge,
    pub commands: Counter,
    pub rejections: Family<CodeLabel, Counter>,
    pub events: Counter,
    pub deliveries: Counter,
    pub slow_consumers: Counter,
    pub append_seconds: Histogram,
    /// Appends refused because another node appended first (cluster mode).
    pub append_conflicts: Counter,
    pub doc_connections: Gauge,
    pub doc_updates: Counter,
    pub doc_deliveries: Counter,
    /// Documents rendered to Markdown or HTML (exports, diffs, the published opinion).
    pub doc_renders: Counter,
    pub records_replayed: Counter,
    pub states_stored: Counter,
    /// Ballot-box rows not counted when a convention was taken up (not a valid ballot of an
    /// existing secret poll, or in the box of a poll it does not match).
    pub ballots_refused: Counter,
    /// Convention tasks that failed and were started again by the hub.
    pub task_restarts: Counter,
    /// Connections past their invitation's limit, closed (the oldest first).
    pub token_evictions: Counter,
    /// Reserve connections closed to make room for a newer one (the reserve was full).
    pub http_refused: Counter,
    /// HTTP connections served from the reserve kept for health, metrics and organizers.
    pub http_reserve: Counter,
    /// Open HTTP connections (upgraded WebSockets included).
    pub http_connections: Gauge,
    /// Public viewers this node holds at most: `--max-public-viewers`, lowered to the
    /// viewers' share of the connection slots (`HttpLimits::public_viewers`).
    pub public_viewers_max: Gauge,
    // Attendance (issue #17).
    /// Stretches of presence written to the attendance store.
    pub attendance_written: Counter,
    /// Writes to the attendance store that failed (kept in memory for the next try).
    pub attendance_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("convene");
        let connections = Gauge::default();
        let conventions = Gauge::default();
        let commands = Counter::default();
        let rejections = Family::<CodeLabel, Counter>::default();
        let events = Counter::default();
        let deliveries = Counter::default();
        let slow_consumers = Counter::default();
        let append_seconds = Histogram::new(exponential_buckets(0.000_05, 2.0, 18));
        let doc_connections = Gauge::default();
        let doc_updates = Counter::default();
        let doc_deliveries = Counter::default();
        let records_replayed = Counter::default();
        let states_stored = Counter::default();
        let task_restarts = Counter::default();
        let token_evictions = Counter::default();
        let http_refused = Counter::default();
        let http_reserve = Counter::default();
        let http_connections = Gauge::default();
        let public_viewers_max = Gauge::default();
        // Attendance (issue #17).
        let attendance_written = Counter::default();
        let attendance_failures = Counter::default();
        registry.register(
            "attendance_written",
            "Stretches of presence written to the attendance store",
            attendance_written.clone(),
        );
        registry.register(
            "attendance_failures",
            "Writes to the attendance store that failed (retried at the next flush)",
            attendance_failures.clone(),
        );
        registry.register(
            "task_restarts",
            "Convention tasks that failed and were started again",
            task_restarts.clone(),
        );
        registry.register(
            "token_evictions",
            "Connections closed because their invitation was opened in too many places",
            token_evictions.clone(),
        );
        registry.register(
            "http_refused",
            "Reserve HTTP connections closed to make room for newer ones (every slot was taken)",
            http_refused.clone(),
        );
        registry.register(
            "http_reserve",
            "HTTP connections served from the reserve kept for health, metrics and organizers",
            http_reserve.clone(),
        );
        registry.register(
            "http_connections",
            "Open HTTP connections, upgraded WebSockets included",
            http_connections.clone(),
        );
        registry.register(
            "public_viewers_max",
            "Public viewers this node holds at most (--max-public-viewers, lowered to the viewers' share of the connection slots)",
            public_viewers_max.clone(),
        );
        registry.register(
            "records_replayed",
            "Log records folded when taking a convention up (after its stored state, if any)",
            records_replayed.clone(),
        );
        registry.register(
            "states_stored",
            "Convention states stored, so that taking one up folds only the log after it",
            states_stored.clone(),
        );
        registry.register(
            "connections",
            "Open WebSocket connections past hello",
            connections.clone(),
        );
        registry.register(
            "conventions",
            "Conventions live in this process",
            conventions.clone(),
        );
        registry.register(
            "commands",
            "Commands decided (accepted or rejected)",
            commands.clone(),
        );
        registry.register(
            "rejections",
            "Commands and frames refused, by error code",
            rejections.clone(),
        );
        registry.register("events", "Events appended to the log", events.clone());
        registry.register(
            "deliveries",
            "Messages queued to connections",
            deliveries.clone(),
        );
        registry.register(
            "slow_consumers",
            "Connections closed because they read too slowly",
            slow_consumers.clone(),
        );
        registry.register(
            "append_seconds",
            "Time to make one batch of events durable",
            append_seconds.clone(),
        );
        let append_conflicts = Counter::default();
        registry.register(
            "append_conflicts",
            "Appends refused because another node appended first (cluster mode)",
            append_conflicts.clone(),
        );
        registry.register(
            "doc_connections",
            "Open connections to collaborative documents",
            doc_connections.clone(),
        );
        registry.register(
            "doc_updates",
            "Document updates stored",
            doc_updates.clone(),
        );
        let ballots_refused = Counter::default();
        registry.register(
            "ballots_refused",
            "Ballot-box rows refused when a convention was taken up (planted or altered)",
            ballots_refused.clone(),
        );
        registry.register(
            "doc_deliveries",
            "Document frames queued to connections",
            doc_deliveries.clone(),
        );
        let doc_renders = Counter::default();
        registry.register(
            "doc_renders",
            "Documents rendered to Markdown or HTML (exports, diffs, the published opinion: a named version once)",
            doc_renders.clone(),
        );
        Metrics {
            doc_renders,
            doc_connections,
            doc_updates,
            doc_deliveries,
            registry,
            connections,
            conventions,
            commands,
            rejections,
            events,
            deliveries,
            slow_consumers,
            append_seconds,
            append_conflicts,
            records_replayed,
            states_stored,
            ballots_refused,
            task_restarts,
            token_evictions,
            http_refused,
            http_reserve,
            http_connections,
            public_viewers_max,
            attendance_written,
            attendance_failures,
        }
    }
}

impl Metrics {
    pub fn reject(&self, code: convene_protocol::ErrorCode) {
        self.rejections
            .get_or_create(&CodeLabel {
                code: code.as_str(),
            })
            .inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
