"""sshlogd's host for sshlog agent plugins written in Python.

sshlogd runs this file with python3 (-c); it provides the modules an agent
plugin imports (plugins.common.plugin with FilterPlugin and ActionPlugin,
comms.event_types with the event type names) and loads every *.py file of
the plugins directory whose name does not start with "_".

  describe DIR                  print the filters and actions found, as JSON
  filter DIR FILTERS_JSON       FILTERS_JSON: [[yaml name, argument], ...];
                                for each event (agent payload, one JSON line
                                on stdin) answer "1" (passes) or "0"
  action DIR CLASS NAME PARAMS  PARAMS: init_action's arguments as JSON; for
                                each event line run execute() and answer
                                "ok" or "error: ..."

Log lines (the plugins' self.logger) and tracebacks go to stderr, which
sshlogd copies into its own log. Standard output carries answers only.
"""
import importlib.util
import inspect
import json
import logging
import operator
import os
import re
import sys
import traceback
import types

EVENT_NAMES = {
    "SSHTRACE_EVENT_NEW_CONNECTION": "connection_new",
    "SSHTRACE_EVENT_ESTABLISHED_CONNECTION": "connection_established",
    "SSHTRACE_EVENT_CLOSE_CONNECTION": "connection_close",
    "SSHTRACE_EVENT_AUTH_FAILED_CONNECTION": "connection_auth_failed",
    "SSHTRACE_EVENT_COMMAND_START": "command_start",
    "SSHTRACE_EVENT_COMMAND_END": "command_finish",
    "SSHTRACE_EVENT_TERMINAL_UPDATE": "terminal_update",
    "SSHTRACE_EVENT_FILE_UPLOAD": "file_upload",
}
ALL_EVENTS = [v for k, v in EVENT_NAMES.items() if k != "SSHTRACE_EVENT_NEW_CONNECTION"]

LOG = logging.getLogger("sshlog_daemon")


class FilterPlugin:
    """Base of custom filters: `filter_arg` is the YAML value."""

    def __init__(self, filter_arg, session_tracker=None, **kwargs):
        self.filter_arg = filter_arg
        self.session_tracker = session_tracker
        self.logger = LOG

    def __str__(self):
        return type(self).__name__

    def triggers(self):
        return list(ALL_EVENTS)

    def filter(self, event_data):
        raise NotImplementedError("a filter plugin must define filter()")

    def _compare_numbers(self, comparison, value):
        ops = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
               ">=": operator.ge, "=": operator.eq, "!=": operator.ne}
        parts = str(comparison).split()
        if len(parts) == 1:
            parts = ["=", parts[0]]
        if len(parts) != 2 or parts[0] not in ops:
            self.logger.warning("cannot compare with %r", comparison)
            return False
        number = float(parts[1]) if "." in parts[1] else int(parts[1])
        return ops[parts[0]](value, number)

    def _compare_regex_strings(self, pattern, value):
        return re.search(pattern, value) is not None


class ActionPlugin:
    """Base of custom actions: init_action's parameters come from YAML."""

    def __init__(self, name, session_tracker=None, **kwargs):
        self.name = name
        self.session_tracker = session_tracker
        self.logger = LOG
        self.init_action(**kwargs)

    def _insert_event_data(self, event_data, template):
        for key, value in event_data.items():
            template = template.replace("{{" + key + "}}", str(value))
        return template

    def init_action(self):
        pass

    def shutdown_action(self):
        pass

    def shutdown(self):
        self.shutdown_action()

    def execute(self, event_data):
        raise NotImplementedError("an action plugin must define execute()")


def install_modules():
    def module(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    event_types = dict(EVENT_NAMES, SSHTRACE_ALL_EVENTS=list(ALL_EVENTS))
    module("comms", event_types=module("comms.event_types", **event_types))
    plugin = module("plugins.common.plugin", FilterPlugin=FilterPlugin, ActionPlugin=ActionPlugin)
    module("plugins", common=module("plugins.common", plugin=plugin))


def load(directory):
    """Filter classes by YAML name, action classes by name, load errors."""
    filters, actions, errors = {}, {}, []
    names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    for file_name in names:
        if not file_name.endswith(".py") or file_name.startswith("_"):
            continue
        path = os.path.join(directory, file_name)
        try:
            spec = importlib.util.spec_from_file_location("sshlog_plugin_" + file_name[:-3], path)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        except Exception:
            errors.append(f"{path}: {traceback.format_exc(limit=3).strip().splitlines()[-1]}")
            continue
        for name, obj in inspect.getmembers(mod, inspect.isclass):
            if obj.__module__ != mod.__name__:
                continue
            if issubclass(obj, FilterPlugin) and name.endswith("_filter"):
                filters[name[: -len("_filter")]] = obj
            elif issubclass(obj, ActionPlugin):
                actions[name] = obj
    return filters, actions, errors


def describe(directory):
    filters, actions, errors = load(directory)
    out = {"filters": {}, "actions": {}, "errors": errors}
    for name, cls in filters.items():
        try:
            triggers = list(cls(None).triggers())
        except Exception as e:
            errors.append(f"{cls.__name__}.triggers(): {e}")
            continue
        out["filters"][name] = {"class": cls.__name__, "triggers": triggers}
    for name, cls in actions.items():
        params = []
        for p in list(inspect.signature(cls.init_action).parameters.values())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            params.append({"name": p.name, "required": p.default is inspect.Parameter.empty})
        out["actions"][name] = {"params": params}
    print(json.dumps(out), flush=True)


def events():
    for line in sys.stdin:
        line = line.strip()
        if line:
            yield json.loads(line)


def answer(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def run_filters(directory, spec):
    classes = load(directory)[0]
    chain = [classes[name](arg) for name, arg in json.loads(spec)]
    for event in events():
        passes = True
        for f in chain:
            if event.get("event_type") not in f.triggers():
                continue
            try:
                result = f.filter(event)
            except Exception:
                LOG.exception("filter %s failed; it is skipped for this event", f)
                continue
            if result is not True:
                if result is not False:
                    LOG.warning("filter %s returned %r, not a boolean; the event is dropped", f, result)
                passes = False
                break
        answer("1" if passes else "0")


def run_action(directory, class_name, name, params):
    cls = load(directory)[1][class_name]
    action = cls(name, None, **json.loads(params))
    try:
        for event in events():
            try:
                action.execute(event)
                answer("ok")
            except Exception as e:
                LOG.exception("action %s failed", name)
                answer("error: " + (str(e).splitlines() or [type(e).__name__])[0])
    finally:
        action.shutdown()


def main():
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    install_modules()
    mode, directory, *rest = sys.argv[1:]
    if mode == "describe":
        describe(directory)
    elif mode == "filter":
        run_filters(directory, *rest)
    elif mode == "action":
        run_action(directory, *rest)
    else:
        sys.exit(f"unknown mode {mode}")


main()
