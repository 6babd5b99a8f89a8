#!/usr/bin/env python3
"""Example sshlog plugin (plugin_action): reads one event JSON object per
line on stdin and appends a short line per event to a file.

Configuration (the action's `config:` mapping, passed as JSON in the
SSHLOG_PLUGIN_CONFIG environment variable):
  output: file to append to (default /var/log/sshlog/example_python_plugin.log)

Anything written to stderr or stdout ends up in sshlogd's log. The plugin runs
until its stdin is closed (sshlogd stopping); if it exits or crashes, sshlogd
starts it again after a back-off delay.
"""
import json
import os
import sys


def main() -> int:
    config = json.loads(os.environ.get("SSHLOG_PLUGIN_CONFIG") or "{}")
    output = config.get("output", "/var/log/sshlog/example_python_plugin.log")
    action = os.environ.get("SSHLOG_ACTION_NAME", "?")
    print(f"example_python plugin for {action} writing to {output}", file=sys.stderr, flush=True)
    with open(output, "a", encoding="utf-8") as out:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as e:
                print(f"bad event line: {e}", file=sys.stderr, flush=True)
                continue
            kind = event.get("type")
            user = event.get("user") or "-"
            session = event.get("session_id") or "-"
            detail = ""
            if kind == "command_start":
                detail = " ".join(event.get("argv") or [])
            elif kind == "connection_established":
                detail = f"from {event.get('client_ip')}"
            out.write(f"{event.get('ts')} {kind} user={user} session={session} {detail}".rstrip() + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
