#!/usr/bin/env bash
# Installs Tributary into a fresh prefix, builds tests/out_of_tree_plugin against the installed
# SDK only, and runs a pipeline that uses it.
#   tests/out_of_tree_plugin.sh <build dir> <work dir>
set -euo pipefail
build="$1"
work="$2"
src="$(cd "$(dirname "$0")" && pwd)"
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/out_of_tree_plugin" -B "$work/plugin" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/plugin" >/dev/null
tributary="$work/prefix/bin/tributary"
TRIBUTARY_PLUGIN_PATH="$work/plugin/plugins" "$tributary" plugins | grep -E '^reverse +third-party'
cat > "$work/reverse.toml" <<TOML
[pipeline]
name = "reverse"
links = [ "points -> flip", "flip -> out" ]
[nodes.points]
plugin = "synthetic"
signal = "blobs"
dims = 3
count = 20
[nodes.flip]
plugin = "reverse"
[nodes.out]
plugin = "jsonl"
path = "$work/out.jsonl"
TOML
TRIBUTARY_PLUGIN_PATH="$work/plugin/plugins" "$tributary" run "$work/reverse.toml" --run-dir "$work/run"
rows=$(wc -l < "$work/out.jsonl")
[ "$rows" -eq 20 ] || { echo "expected 20 rows, found $rows"; exit 1; }
echo "out-of-tree plugin built against the installed SDK, loaded, and ran: $rows rows"
