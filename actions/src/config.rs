//! Reading the configuration directory: every `*.yaml` / `*.yml` file in it
//! (sorted by name, dot files skipped), each holding `events:`, each event
//! with its triggers, filters and actions.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{ConfigError, ConfigErrors, Diag};
use super::fields::{as_string, Fields};
use super::filters::Filters;
use super::kinds::{self, KindConfig, ParseCx, KINDS};
use super::triggers::Triggers;
use super::yaml::{self, Node, Pos, Value};

/// Default size of an action's queue.
pub const DEFAULT_QUEUE_SIZE: u64 = 1024;

/// One configured event.
#[derive(Debug, Clone)]
pub struct EventConfig {
    pub name: Arc<str>,
    pub file: PathBuf,
    pub pos: Pos,
    pub triggers: Triggers,
    pub filters: Filters,
    pub actions: Vec<ActionConfig>,
}

/// One action of an event.
#[derive(Debug, Clone)]
pub struct ActionConfig {
    pub name: String,
    /// One of [`KINDS`].
    pub kind: &'static str,
    pub queue_size: usize,
    pub pos: Pos,
    pub config: KindConfig,
}

/// The configuration files of `dir`, sorted.
pub fn config_files(dir: &Path) -> Result<Vec<PathBuf>, ConfigErrors> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: dir.to_path_buf(),
            line: 0,
            col: 0,
            message: format!("cannot read configuration directory: {e}"),
        }])
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or(".");
            !name.starts_with('.')
                && (name.ends_with(".yaml") || name.ends_with(".yml"))
                && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Load and validate every file of `dir`.
pub fn load_dir(
    dir: &Path,
    plugins_dir: &Path,
) -> Result<(Vec<PathBuf>, Vec<EventConfig>), ConfigErrors> {
    let files = config_files(dir)?;
    let cx = ParseCx { plugins_dir };
    let mut errors = Vec::new();
    let mut events: Vec<EventConfig> = Vec::new();
    for file in &files {
        let mut d = Diag::new(file);
        match std::fs::read_to_string(file) {
            Ok(text) => {
                for ev in parse_file(&mut d, &text, &cx) {
                    if let Some(first) = events.iter().find(|e| e.name == ev.name) {
                        d.err(
                            ev.pos,
                            format!(
                                "duplicate event name `{}` (first defined at {}:{}:{})",
                                ev.name,
                                first.file.display(),
                                first.pos.line,
                                first.pos.col
                            ),
                        );
                    } else {
                        events.push(ev);
                    }
                }
            }
            Err(e) => d.err(Pos { line: 0, col: 0 }, format!("cannot read file: {e}")),
        }
        errors.append(&mut d.errors);
    }
    if errors.is_empty() {
        Ok((files, events))
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Parse one file's text; errors go to `d`, events with errors are left out.
pub fn parse_file(d: &mut Diag, text: &str, cx: &ParseCx<'_>) -> Vec<EventConfig> {
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return Vec::new(),
        Err(e) => {
            d.err(e.pos, e.to_string());
            return Vec::new();
        }
    };
    let Some(mut top) = Fields::of(d, &root, "configuration file") else {
        return Vec::new();
    };
    let list = top.get("events");
    top.finish(d, "the configuration file", "key");
    let Some(list) = list else {
        return Vec::new();
    };
    let Value::Seq(items) = &list.value else {
        d.err(
            list.pos,
            format!(
                "`events`: expected a list, found {}",
                list.value.type_name()
            ),
        );
        return Vec::new();
    };
    let mut out: Vec<EventConfig> = Vec::new();
    for item in items {
        let before = d.errors.len();
        if let Some(ev) = parse_event(d, item, cx) {
            if d.errors.len() == before {
                if let Some(first) = out.iter().find(|e| e.name == ev.name) {
                    let msg = format!(
                        "duplicate event name `{}` (first defined at {}:{}:{})",
                        ev.name,
                        d.file().display(),
                        first.pos.line,
                        first.pos.col
                    );
                    d.err(ev.pos, msg);
                } else {
                    out.push(ev);
                }
            }
        }
    }
    out
}

fn name_of(
    d: &mut Diag,
    f: &mut Fields<'_>,
    key: &'static str,
    what: &str,
) -> Option<(String, Pos)> {
    let n = f.require(d, key, what)?;
    let s = as_string(d, n, key)?;
    if s.trim().is_empty() || s.contains('/') {
        d.err(
            n.pos,
            format!("`{key}`: a name must be non-empty and contain no `/`"),
        );
        return None;
    }
    Some((s, n.pos))
}

fn parse_event(d: &mut Diag, node: &Node, cx: &ParseCx<'_>) -> Option<EventConfig> {
    let mut f = Fields::of(d, node, "event")?;
    let name = name_of(d, &mut f, "event", "event");
    let triggers = f
        .require(d, "triggers", "event")
        .and_then(|n| Triggers::parse(d, n));
    let filters = match f.get("filters") {
        Some(n) => Filters::parse(d, n),
        None => Some(Filters::default()),
    };
    let actions = f
        .require(d, "actions", "event")
        .and_then(|n| match &n.value {
            Value::Seq(items) if !items.is_empty() => {
                let mut acts: Vec<ActionConfig> = Vec::new();
                let mut ok = true;
                for it in items {
                    match parse_action(d, it, cx) {
                        Some(a) if acts.iter().any(|b| b.name == a.name) => {
                            ok = false;
                            d.err(
                                a.pos,
                                format!("duplicate action name `{}` in this event", a.name),
                            );
                        }
                        Some(a) => acts.push(a),
                        None => ok = false,
                    }
                }
                ok.then_some(acts)
            }
            Value::Seq(_) => {
                d.err(n.pos, "`actions`: at least one action is needed");
                None
            }
            other => {
                d.err(
                    n.pos,
                    format!("`actions`: expected a list, found {}", other.type_name()),
                );
                None
            }
        });
    f.finish(d, "event", "key");
    let (name, pos) = name?;
    Some(EventConfig {
        name: Arc::from(name),
        file: d.file().to_path_buf(),
        pos,
        triggers: triggers?,
        filters: filters?,
        actions: actions?,
    })
}

fn parse_action(d: &mut Diag, node: &Node, cx: &ParseCx<'_>) -> Option<ActionConfig> {
    let mut f = Fields::of(d, node, "action")?;
    let before = d.errors.len();
    let name = name_of(d, &mut f, "action", "action");
    let kind_node = f.require(d, "plugin", "action")?;
    let kind_name = as_string(d, kind_node, "plugin")?;
    let Some(kind) = KINDS.iter().copied().find(|k| *k == kind_name) else {
        d.err(
            kind_node.pos,
            format!("unknown plugin `{kind_name}` (valid: {})", KINDS.join(", ")),
        );
        return None;
    };
    let queue_size = f.uint_or(d, "queue_size", DEFAULT_QUEUE_SIZE, 1 << 20) as usize;
    let config = kinds::parse(kind, &mut f, d, cx);
    f.finish(d, kind, "option");
    let (name, _) = name?;
    let config = config?;
    (d.errors.len() == before).then_some(ActionConfig {
        name,
        kind,
        queue_size: queue_size.max(1),
        pos: node.pos,
        config,
    })
}
