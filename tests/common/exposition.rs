//! Reading metrics back in tests: a parser of the Prometheus text
//! exposition format, and a `metrics` facade recorder that keeps every
//! value it is given.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

/// One sample line of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Parses the sample lines of a text exposition (comments skipped). Panics
/// on a line it cannot read: the output under test is malformed.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| parse_line(line).unwrap_or_else(|| panic!("unreadable exposition line: {line}")))
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let (name, rest) = match line.find('{') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => {
            let (name, value) = line.split_once(' ')?;
            return Some(Sample {
                name: name.to_string(),
                labels: BTreeMap::new(),
                value: parse_value(value)?,
            });
        }
    };
    let mut labels = BTreeMap::new();
    let mut chars = rest.char_indices().peekable();
    loop {
        // label name up to '='
        let start = chars.peek()?.0;
        if rest[start..].starts_with('}') {
            chars.next();
            break;
        }
        let eq = rest[start..].find('=')? + start;
        let key = rest[start..eq].trim_start_matches(',').to_string();
        while chars.peek()?.0 <= eq {
            chars.next();
        }
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            let (_, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.insert(key, value);
        if chars.peek()?.1 == ',' {
            chars.next();
        }
    }
    let at = chars.peek()?.0;
    let value = rest[at..].trim();
    Some(Sample {
        name: name.to_string(),
        labels,
        value: parse_value(value)?,
    })
}

fn parse_value(v: &str) -> Option<f64> {
    match v.trim() {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        v => v.parse().ok(),
    }
}

/// The samples named `name` whose labels include every pair of `labels`.
pub fn matching<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

/// The value of the one sample named `name` with `labels`; `None` when
/// absent, a panic when several match (the selection is ambiguous).
pub fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found = matching(samples, name, labels);
    assert!(found.len() <= 1, "{name} {labels:?} matches {} samples", found.len());
    found.first().map(|s| s.value)
}

/// What a [`TestRecorder`] holds for one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    Counter(u64),
    Gauge(f64),
    Histogram(Vec<f64>),
}

/// A facade recorder that keeps every series and value, keyed by
/// `name{label="value",…}` with labels sorted by name.
#[derive(Debug, Default, Clone)]
pub struct TestRecorder {
    values: Arc<Mutex<BTreeMap<String, Recorded>>>,
    descriptions: Arc<Mutex<Vec<String>>>,
}

impl TestRecorder {
    /// Every series recorded so far.
    pub fn values(&self) -> BTreeMap<String, Recorded> {
        self.values.lock().unwrap().clone()
    }

    /// Everything recorded, as one text (for scanning).
    pub fn dump(&self) -> String {
        let mut out = format!("{:?}", self.values());
        for d in self.descriptions.lock().unwrap().iter() {
            out.push('\n');
            out.push_str(d);
        }
        out
    }

    fn cell(&self, key: &Key, init: Recorded) -> Arc<Cell> {
        let mut labels: Vec<_> = key
            .labels()
            .map(|l| (l.key().to_string(), l.value().to_string()))
            .collect();
        labels.sort();
        let rendered = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect::<Vec<_>>()
            .join(",");
        let id = format!("{}{{{rendered}}}", key.name());
        self.values.lock().unwrap().entry(id.clone()).or_insert(init);
        Arc::new(Cell {
            id,
            values: self.values.clone(),
        })
    }
}

/// The key name of a `TestRecorder` entry.
pub fn key(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<_> = labels.to_vec();
    labels.sort();
    let rendered = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect::<Vec<_>>()
        .join(",");
    format!("{name}{{{rendered}}}")
}

struct Cell {
    id: String,
    values: Arc<Mutex<BTreeMap<String, Recorded>>>,
}

impl Cell {
    fn update(&self, f: impl FnOnce(&mut Recorded)) {
        let mut values = self.values.lock().unwrap();
        f(values.get_mut(&self.id).expect("created on registration"));
    }
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.update(|r| match r {
            Recorded::Counter(c) => *c += value,
            other => panic!("{} is not a counter: {other:?}", self.id),
        });
    }

    fn absolute(&self, value: u64) {
        self.update(|r| *r = Recorded::Counter(value));
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        self.update(|r| match r {
            Recorded::Gauge(g) => *g += value,
            other => panic!("{} is not a gauge: {other:?}", self.id),
        });
    }

    fn decrement(&self, value: f64) {
        GaugeFn::increment(self, -value);
    }

    fn set(&self, value: f64) {
        self.update(|r| *r = Recorded::Gauge(value));
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        self.update(|r| match r {
            Recorded::Histogram(h) => h.push(value),
            other => panic!("{} is not a histogram: {other:?}", self.id),
        });
    }
}

impl Recorder for TestRecorder {
    fn describe_counter(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.descriptions
            .lock()
            .unwrap()
            .push(format!("{} {description}", key.as_str()));
    }

    fn describe_gauge(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.descriptions
            .lock()
            .unwrap()
            .push(format!("{} {description}", key.as_str()));
    }

    fn describe_histogram(&self, key: KeyName, _: Option<Unit>, description: SharedString) {
        self.descriptions
            .lock()
            .unwrap()
            .push(format!("{} {description}", key.as_str()));
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key, Recorded::Counter(0)))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.cell(key, Recorded::Gauge(0.0)))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.cell(key, Recorded::Histogram(Vec::new())))
    }
}
