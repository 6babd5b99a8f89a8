//! Event lines per host per hour (`store.events: true`): sshlogd appends
//! each event record (JSON, as in a sidecar) to a local hour file under
//! `<log_dir>/spool/events/YYYY-MM-DDTHH.jsonl`; the uploader sends an hour
//! file whenever it grew (the whole hour again, zstd-compressed: a PUT
//! replaces) to `hosts/<host>/events/YYYY-MM-DD/HH.jsonl.zst`, and deletes
//! it once its hour is over and its last state is in the store. The local
//! file is kept until then, across restarts and kill -9, so no line is
//! lost; an hour file uploaded again holds the same lines.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Timelike, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as Key;
use sshlog_format::sidecar::Record;

use crate::keys::Layout;
use crate::{FleetError, FleetStore};

/// How long after its hour an hour file may still get lines.
const LATE: Duration = Duration::minutes(5);
const HOUR_FORMAT: &str = "%Y-%m-%dT%H";

/// The local hour files.
pub struct EventSpool {
    dir: PathBuf,
}

/// The start of the hour of `t`.
fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_nanosecond(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_minute(0))
        .unwrap_or(t)
}

impl EventSpool {
    pub fn new(log_dir: &Path) -> EventSpool {
        EventSpool {
            dir: log_dir.join("spool").join("events"),
        }
    }

    /// Appends `record` to its hour's file.
    pub fn append(&self, record: &Record) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let name = format!("{}.jsonl", hour_of(record.ts).format(HOUR_FORMAT));
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(name))?;
        let mut line = record.to_line();
        line.push('\n');
        f.write_all(line.as_bytes())
    }

    /// The hour files: (hour start, path, size).
    fn files(&self) -> Vec<(DateTime<Utc>, PathBuf, u64)> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<_> = dir
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let stem = p.file_name()?.to_str()?.strip_suffix(".jsonl")?;
                let hour = NaiveDateTime::parse_from_str(&format!("{stem}:00"), "%Y-%m-%dT%H:%M")
                    .ok()?
                    .and_utc();
                Some((hour, p.clone(), e.metadata().ok()?.len()))
            })
            .collect();
        out.sort();
        out
    }

    /// Sends the hour files that grew since `sent`; deletes those whose hour
    /// is over and whose last state the store holds. Returns the files sent.
    pub async fn upload(
        &self,
        store: &FleetStore,
        host: &str,
        sent: &mut HashMap<PathBuf, u64>,
    ) -> Result<u64, FleetError> {
        let now = Utc::now();
        let mut count = 0;
        for (hour, path, size) in self.files() {
            if sent.get(&path) != Some(&size) {
                let lines = std::fs::read(&path)
                    .map_err(|e| FleetError::Local(format!("{}: {e}", path.display())))?;
                // What was read is what is sent: a line appended meanwhile
                // makes the size differ again and is sent next time.
                let size = lines.len() as u64;
                let body = zstd::bulk::compress(&lines, 3)
                    .map_err(|e| FleetError::Local(e.to_string()))?;
                store
                    .put_bytes(&store.layout.events_hour(host, hour), body)
                    .await?;
                sent.insert(path.clone(), size);
                count += 1;
            }
            let done = hour + Duration::hours(1) + LATE < now;
            let current = std::fs::metadata(&path).map(|m| m.len()).ok();
            if done && current.is_some() && current == sent.get(&path).copied() {
                if let Err(e) = std::fs::remove_file(&path) {
                    tracing::warn!("cannot remove {}: {e}", path.display());
                }
                sent.remove(&path);
            }
        }
        Ok(count)
    }
}

/// One event line of the fleet.
#[derive(Debug, Clone)]
pub struct FleetEvent {
    pub host: String,
    pub record: Record,
}

impl FleetStore {
    /// The event records of `hosts` in the hours overlapping
    /// `[since, until]`, oldest first (records outside are dropped).
    pub async fn events(
        &self,
        hosts: &[String],
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<FleetEvent>, FleetError> {
        let first = since.date_naive();
        let last = until.date_naive();
        // One LIST per host and day.
        let mut days = Vec::new();
        for host in hosts {
            let mut d = first;
            while d <= last {
                days.push((host.clone(), d));
                d += Duration::days(1);
            }
        }
        let keys: Vec<Vec<(String, Key)>> = futures::stream::iter(days)
            .map(|(host, day): (String, NaiveDate)| async move {
                let listed = self.list(&self.layout.events_day(&host, day)).await?;
                Ok::<_, FleetError>(
                    listed
                        .into_iter()
                        .filter(|m| {
                            Layout::event_hour(&m.location)
                                .is_some_and(|h| h + Duration::hours(1) > since && h <= until)
                        })
                        .map(|m| (host.clone(), m.location))
                        .collect(),
                )
            })
            .buffer_unordered(crate::catalog::CONCURRENT_GETS)
            .try_collect()
            .await?;
        let read: Vec<Vec<FleetEvent>> = futures::stream::iter(keys.into_iter().flatten())
            .map(|(host, key)| async move {
                let bytes = self.get(&key).await?;
                let lines = zstd::stream::decode_all(&bytes[..])
                    .map_err(|e| FleetError::Store(format!("{key}: {e}")))?;
                let mut out = Vec::new();
                for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    // A line that does not parse is reported, not skipped.
                    let record = serde_json::from_slice(line)
                        .map_err(|e| e.to_string())
                        .and_then(Record::from_json)
                        .map_err(|e| FleetError::Store(format!("{key}: {e}")))?;
                    if record.ts >= since && record.ts <= until {
                        out.push(FleetEvent {
                            host: host.clone(),
                            record,
                        });
                    }
                }
                Ok::<_, FleetError>(out)
            })
            .buffer_unordered(crate::catalog::CONCURRENT_GETS)
            .try_collect()
            .await?;
        let mut all: Vec<FleetEvent> = read.into_iter().flatten().collect();
        all.sort_by(|a, b| (a.record.ts, &a.host).cmp(&(b.record.ts, &b.host)));
        Ok(all)
    }
}
