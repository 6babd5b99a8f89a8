#!/bin/sh
# Example sshlog plugin (plugin_action) in POSIX sh: reads one event JSON
# object per line on stdin and appends "<type> <json>" to a file.
#
# Configuration (the action's `config:` mapping) arrives as JSON in
# SSHLOG_PLUGIN_CONFIG; this example takes the file from {"output": "..."}
# (default /var/log/sshlog/example_shell_plugin.log). A real plugin would use
# jq or a proper language to read the JSON.
out=$(printf '%s' "${SSHLOG_PLUGIN_CONFIG:-}" | sed -n 's/.*"output" *: *"\([^"]*\)".*/\1/p')
[ -n "$out" ] || out=/var/log/sshlog/example_shell_plugin.log
echo "example_shell plugin for ${SSHLOG_ACTION_NAME:-?} writing to $out" >&2
while IFS= read -r line; do
    [ -n "$line" ] || continue
    type=$(printf '%s' "$line" | sed -n 's/.*"type":"\([a-z_]*\)".*/\1/p')
    printf '%s %s\n' "${type:-unknown}" "$line" >>"$out"
done
