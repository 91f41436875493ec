#!/usr/bin/env bash
# Style checks that CI runs after the tests: no function in src/ over 60 lines (lizard), no line over
# 120 columns, every C++ file formatted by clang-format with the repository's .clang-format, no command file
# (src/cli/cmd_*.cpp) over 120 lines, includes between areas only downwards (docs/ARCHITECTURE.md), and no
# include circle between units (scripts/include_cycles.py).
# Installs lizard (PyPI, into the torch virtualenv) and clang-format (Debian) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/versions.sh

say() { printf '[lint] %s\n' "$*" >&2; }
venv=${NETADJ_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/netadj/venv-torch-$NETADJ_TORCH_VERSION}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -m lizard --version 2>/dev/null | grep -qx "$NETADJ_LIZARD_VERSION"; then
  say "installing lizard==$NETADJ_LIZARD_VERSION into $venv"
  "$venv/bin/pip" install -q "lizard==$NETADJ_LIZARD_VERSION"
fi
# One clang-format major version, since their output differs (Debian 12's clang-format-14).
format=clang-format-$NETADJ_CLANG_FORMAT_MAJOR
if ! command -v "$format" >/dev/null; then
  say "installing $format"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q "$format"
fi

mapfile -t sources < <(git ls-files '*.cpp' '*.h' 2>/dev/null || find src include tests -name '*.cpp' -o -name '*.h')
status=0

# Function length: lizard's "length" counts every line from the signature to the closing brace.
if ! "$venv/bin/python" -m lizard --length 60 --CCN 1000 --arguments 100 --warnings_only src; then
  say "functions over 60 lines in src/ (above): split them so each does one thing"
  status=1
fi

long=$(awk 'length > 120 { printf "%s:%d: %d columns\n", FILENAME, FNR, length }' "${sources[@]}" CMakeLists.txt)
if [ -n "$long" ]; then
  printf '%s\n' "$long"
  say "lines over 120 columns (above)"
  status=1
fi

if ! "$format" --dry-run --Werror "${sources[@]}" 2>/tmp/netadj-clang-format.log; then
  grep -m 20 'error:' /tmp/netadj-clang-format.log || true
  say "files not clang-format clean (above): run $format -i on them"
  status=1
fi

# Commands only parse and print: no src/cli/cmd_*.cpp over 120 lines (the work goes to pipeline/).
for f in src/cli/cmd_*.cpp; do
  n=$(wc -l <"$f")
  if [ "$n" -gt 120 ]; then
    say "$f: $n lines; a command parses its options and prints (at most 120 lines): move the work to src/pipeline/"
    status=1
  fi
done

# Include direction: the layers table in docs/ARCHITECTURE.md says which areas each area may include.
declare -A allowed
while IFS=: read -r area deps; do
  allowed[$area]=" $area $deps "
done < <(awk '/^```layers$/ { on = 1; next } /^```$/ { on = 0 } on' docs/ARCHITECTURE.md)
[ ${#allowed[@]} -gt 0 ] || { say "docs/ARCHITECTURE.md has no layers table"; status=1; }
while IFS= read -r hit; do
  file=${hit%%:*}
  area=$(sed -E 's#^(src|include/netadj)/([a-z_]+)/.*#\2#' <<<"$file")
  used=$(sed -E 's#.*"netadj/([a-z_]+)/.*#\1#' <<<"$hit")
  if [ -z "${allowed[$area]+x}" ]; then
    say "$file: area '$area' is not in the layers table of docs/ARCHITECTURE.md"
    status=1
  elif [[ ${allowed[$area]} != *" $used "* ]]; then
    say "$file includes netadj/$used/: $area may include only:${allowed[$area]}(docs/ARCHITECTURE.md)"
    status=1
  fi
done < <(grep -rHo '#include "netadj/[a-z_]*/' src include | grep -v '^src/main.cpp')

# Include circles between units (a header with its source), inside an area too.
if ! python3 scripts/include_cycles.py; then
  say "units that include each other in a circle (above): move what both need into a unit below them"
  status=1
fi

[ $status -eq 0 ] && say "ok: function length, line length, formatting, command size, include direction and circles"
exit $status
