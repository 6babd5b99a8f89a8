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
    /// Where the Python plugins of its filters live.
    pub plugins_dir: PathBuf,
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

/// What a configuration directory yields: the valid events and the errors of
/// the rest. A file, event or action with an error is left out; everything
/// else loads (one bad file never stops the others).
#[derive(Debug, Default)]
pub struct Loaded {
    pub files: Vec<PathBuf>,
    pub events: Vec<EventConfig>,
    pub errors: ConfigErrors,
}

/// A top-level `actions:` entry: an action defined once, used by name.
struct Definition {
    name: String,
    file: PathBuf,
    pos: Pos,
    node: Node,
    valid: bool,
}

/// Load and validate every file of `dir` (an unreadable directory is the
/// only error that yields nothing).
pub fn load_dir(dir: &Path, cx: ParseCx<'_>) -> Result<Loaded, ConfigErrors> {
    let files = config_files(dir)?;
    let mut errors = Vec::new();
    let catalog = match crate::agent::python::Catalog::of(cx.plugins_dir) {
        Some(Ok(c)) => {
            for e in &c.errors {
                errors.push(ConfigError {
                    file: cx.plugins_dir.to_path_buf(),
                    line: 0,
                    col: 0,
                    message: format!("Python plugin not loaded: {e}"),
                });
            }
            Some(c)
        }
        Some(Err(e)) => {
            errors.push(ConfigError {
                file: cx.plugins_dir.to_path_buf(),
                line: 0,
                col: 0,
                message: e,
            });
            None
        }
        None => None,
    };
    let cx = ParseCx {
        python: catalog.as_ref().or(cx.python),
        ..cx
    };
    let mut roots: Vec<(PathBuf, Node)> = Vec::new();
    for file in &files {
        let mut d = Diag::new(file);
        match std::fs::read_to_string(file) {
            Ok(text) => match yaml::parse(&text) {
                Ok(Some(root)) => roots.push((file.clone(), root)),
                Ok(None) => {}
                Err(e) => d.err(e.pos, e.to_string()),
            },
            Err(e) => d.err(Pos { line: 0, col: 0 }, format!("cannot read file: {e}")),
        }
        errors.append(&mut d.errors);
    }
    // Named actions first: events of any file may use them.
    let mut defs: Vec<Definition> = Vec::new();
    for (file, root) in &roots {
        let mut d = Diag::new(file);
        collect_definitions(&mut d, root, &cx, &mut defs);
        errors.append(&mut d.errors);
    }
    let cx = FileCx {
        kinds: cx,
        defs: &defs,
    };
    let mut events: Vec<EventConfig> = Vec::new();
    for (file, root) in &roots {
        let mut d = Diag::new(file);
        for ev in parse_root(&mut d, root, &cx) {
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
        errors.append(&mut d.errors);
    }
    Ok(Loaded {
        files,
        events,
        errors: ConfigErrors(errors),
    })
}

/// What parsing an event needs: the kinds' context and the named actions.
pub struct FileCx<'a> {
    pub kinds: ParseCx<'a>,
    defs: &'a [Definition],
}

/// Parse one file's text on its own (no named actions from other files);
/// errors go to `d`, events with errors are left out.
pub fn parse_file(d: &mut Diag, text: &str, cx: &ParseCx<'_>) -> Vec<EventConfig> {
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => return Vec::new(),
        Err(e) => {
            d.err(e.pos, e.to_string());
            return Vec::new();
        }
    };
    let mut defs = Vec::new();
    collect_definitions(d, &root, cx, &mut defs);
    parse_root(
        d,
        &root,
        &FileCx {
            kinds: *cx,
            defs: &defs,
        },
    )
}

/// Reads the top-level `actions:` of a file into `defs`, validating each.
fn collect_definitions(d: &mut Diag, root: &Node, cx: &ParseCx<'_>, defs: &mut Vec<Definition>) {
    let Value::Map(entries) = &root.value else {
        return;
    };
    let Some((_, list)) = entries
        .iter()
        .find(|(k, _)| matches!(&k.value, Value::Str(s) if s == "actions"))
    else {
        return;
    };
    if list.value == Value::Null {
        return;
    }
    let Value::Seq(items) = &list.value else {
        let found = list.value.type_name();
        d.err(
            list.pos,
            format!("`actions`: expected a list, found {found}"),
        );
        return;
    };
    let fcx = FileCx {
        kinds: *cx,
        defs: &[],
    };
    for item in items {
        let before = d.errors.len();
        let parsed = parse_action(d, item, &fcx);
        let Some(name) = parsed.as_ref().map(|a| a.name.clone()).or_else(|| {
            // Name the definition even when its options are wrong, so that
            // events using it say why they are left out.
            item_name(item)
        }) else {
            continue;
        };
        if let Some(first) = defs.iter().find(|x| x.name == name) {
            d.err(
                item.pos,
                format!(
                    "duplicate action name `{name}` (first defined at {}:{}:{})",
                    first.file.display(),
                    first.pos.line,
                    first.pos.col
                ),
            );
            continue;
        }
        defs.push(Definition {
            name,
            file: d.file().to_path_buf(),
            pos: item.pos,
            node: item.clone(),
            valid: parsed.is_some() && d.errors.len() == before,
        });
    }
}

/// The `action:` name of a mapping, if it has one.
fn item_name(item: &Node) -> Option<String> {
    let Value::Map(entries) = &item.value else {
        return None;
    };
    entries
        .iter()
        .find_map(|(k, v)| match (&k.value, &v.value) {
            (Value::Str(k), Value::Str(v)) if k == "action" => Some(v.clone()),
            _ => None,
        })
}

/// The events of a parsed file.
fn parse_root(d: &mut Diag, root: &Node, cx: &FileCx<'_>) -> Vec<EventConfig> {
    let Some(mut top) = Fields::of(d, root, "configuration file") else {
        return Vec::new();
    };
    let list = top.get("events");
    let _ = top.get("actions"); // read by collect_definitions
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

fn parse_event(d: &mut Diag, node: &Node, cx: &FileCx<'_>) -> Option<EventConfig> {
    let mut f = Fields::of(d, node, "event")?;
    let name = name_of(d, &mut f, "event", "event");
    let triggers = f
        .require(d, "triggers", "event")
        .and_then(|n| Triggers::parse(d, n));
    let filters = match f.get("filters") {
        Some(n) => Filters::parse(d, n, cx.kinds.python),
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
        plugins_dir: cx.kinds.plugins_dir.to_path_buf(),
    })
}

/// One entry of an event's `actions:` (or of the top-level `actions:`). An
/// entry without `plugin:` uses the named action defined at the top level,
/// its own keys overriding the definition's.
fn parse_action(d: &mut Diag, node: &Node, cx: &FileCx<'_>) -> Option<ActionConfig> {
    let merged;
    let node = match (has_key(node, "plugin"), item_name(node)) {
        (false, Some(name)) => {
            let Some(def) = cx.defs.iter().find(|x| x.name == name) else {
                let known: Vec<&str> = cx.defs.iter().map(|x| x.name.as_str()).collect();
                d.err(
                    node.pos,
                    format!(
                        "action `{name}` has no `plugin` and no top-level action of that name is defined{}",
                        if known.is_empty() {
                            String::new()
                        } else {
                            format!(" (defined: {})", known.join(", "))
                        }
                    ),
                );
                return None;
            };
            if !def.valid {
                d.err(
                    node.pos,
                    format!(
                        "action `{name}` is left out: its definition at {}:{}:{} has errors",
                        def.file.display(),
                        def.pos.line,
                        def.pos.col
                    ),
                );
                return None;
            }
            merged = overlay(&def.node, node);
            &merged
        }
        _ => node,
    };
    let mut f = Fields::of(d, node, "action")?;
    let before = d.errors.len();
    let name = name_of(d, &mut f, "action", "action");
    let kind_node = f.require(d, "plugin", "action")?;
    let kind_name = as_string(d, kind_node, "plugin")?;
    let python = cx.kinds.python.and_then(|c| c.actions.get(&kind_name));
    let kind = match (kinds::canonical(&kind_name), python) {
        (Some(kind), _) => kind,
        (None, Some(info)) => {
            let queue_size = f.uint_or(d, "queue_size", DEFAULT_QUEUE_SIZE, 1 << 20) as usize;
            let (name, _) = name?;
            let before = d.errors.len();
            let config =
                kinds::python_plugin::Config::parse(&mut f, d, &cx.kinds, &kind_name, &name, info);
            return (d.errors.len() == before).then_some(ActionConfig {
                name,
                kind: kinds::python_plugin::KIND,
                queue_size: queue_size.max(1),
                pos: node.pos,
                config: KindConfig::PythonPlugin(config?),
            });
        }
        (None, None) => {
            let mut valid: Vec<&str> = KINDS.to_vec();
            if let Some(c) = cx.kinds.python {
                let mut names: Vec<&str> = c.actions.keys().map(String::as_str).collect();
                names.sort();
                valid.extend(names);
            }
            d.err(
                kind_node.pos,
                format!("unknown plugin `{kind_name}` (valid: {})", valid.join(", ")),
            );
            return None;
        }
    };
    let queue_size = f.uint_or(d, "queue_size", DEFAULT_QUEUE_SIZE, 1 << 20) as usize;
    let config = kinds::parse(kind, &mut f, d, &cx.kinds);
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

fn has_key(node: &Node, key: &str) -> bool {
    matches!(&node.value, Value::Map(e) if e.iter().any(|(k, _)| matches!(&k.value, Value::Str(s) if s == key)))
}

/// `base`'s entries with `top`'s keys replacing or adding to them; at
/// `top`'s position (errors point at the use).
fn overlay(base: &Node, top: &Node) -> Node {
    let (Value::Map(b), Value::Map(t)) = (&base.value, &top.value) else {
        return top.clone();
    };
    let mut entries: Vec<(Node, Node)> = b
        .iter()
        .filter(|(k, _)| !t.iter().any(|(tk, _)| tk.value == k.value))
        .cloned()
        .collect();
    entries.extend(t.iter().cloned());
    Node {
        value: Value::Map(entries),
        pos: top.pos,
    }
}
