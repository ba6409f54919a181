#!/usr/bin/env bash
# Installs and builds the client-compatibility scenario runners of proxy/test/compat: the same
# scenarios (proxy/test/compat/scenarios.json) through three real drivers, psycopg 3 (Python),
# pgx v5 (Go) and pgjdbc (Java). Idempotent: what is already built from the same sources is kept,
# so a second run takes a second or two.
#
#   bash scripts/compat-deps.sh          install/build what is missing, then print the exports
#   eval "$(bash scripts/compat-deps.sh)"
#
# Everything goes under CAIRN_COMPAT_DIR (default <repo>/.cairn/compat):
#   venv/            Python venv with psycopg[binary]   -> CAIRN_COMPAT_PYTHON (run scenarios.py with it)
#   bin/compat-go    the pgx runner                       -> CAIRN_COMPAT_GO
#   compat.jar       the pgjdbc runner, driver shaded in  -> CAIRN_COMPAT_JAR (java -jar)
# Downloads: PyPI (pip), the Go module proxy (go build), Maven Central (mvn, default ~/.m2).
# Needs python3 >= 3.10, go >= 1.25, a JDK >= 17 and Maven >= 3.6.3 on PATH.
# The last three lines on stdout are `export CAIRN_COMPAT_PYTHON=... CAIRN_COMPAT_GO=... CAIRN_COMPAT_JAR=...`;
# progress goes to stderr. On failure it exits non-zero, naming what failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SRC=$ROOT/proxy/test/compat
DIR=${CAIRN_COMPAT_DIR:-$ROOT/.cairn/compat}
PSYCOPG_REQ='psycopg[binary]==3.3.9'
PYTHON_BIN=${CAIRN_COMPAT_PYTHON_BIN:-python3}

say() { echo "compat-deps: $*" >&2; }
die() {
  echo "compat-deps: error: $*" >&2
  exit 1
}
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH ($2)"; }

# A digest of the given files, to tell whether a build is current.
digest() { cat "$@" | sha256sum | cut -d' ' -f1; }
stamp_ok() { [ -f "$DIR/.stamp-$1" ] && [ "$(cat "$DIR/.stamp-$1")" = "$2" ]; }
stamp_set() { printf '%s\n' "$2" >"$DIR/.stamp-$1"; }

mkdir -p "$DIR" "$DIR/bin" || die "cannot create $DIR"
DIR=$(cd "$DIR" && pwd)

# --- Python: venv with psycopg 3 -----------------------------------------------------------------
python_deps() {
  need "$PYTHON_BIN" "Python >= 3.10 for psycopg 3"
  local version
  version=$("$PYTHON_BIN" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || die "$PYTHON_BIN does not run"
  "$PYTHON_BIN" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || die "Python $version is too old for psycopg 3 (need >= 3.10)"
  local want="$PSYCOPG_REQ python$version"
  if stamp_ok python "$want" && [ -x "$DIR/venv/bin/python" ]; then
    say "python: venv with $PSYCOPG_REQ is there"
    return
  fi
  say "python: creating venv with $PSYCOPG_REQ (pip, PyPI)"
  rm -rf "$DIR/venv"
  "$PYTHON_BIN" -m venv "$DIR/venv" >&2 || die "python: 'python3 -m venv' failed (is the venv module installed?)"
  if ! "$DIR/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$PSYCOPG_REQ" >&2; then
    rm -rf "$DIR/venv"
    die "python: pip install $PSYCOPG_REQ failed"
  fi
  "$DIR/venv/bin/python" -c 'import psycopg; assert psycopg.pq.__impl__ == "binary", psycopg.pq.__impl__' >&2 ||
    die "python: psycopg imports but not with its binary libpq"
  stamp_set python "$want"
}

# --- Go: the pgx runner ----------------------------------------------------------------------------
go_deps() {
  need go "Go >= 1.25 for pgx v5"
  local want
  want="$(go env GOVERSION) $(digest "$SRC/go/go.mod" "$SRC/go/go.sum" "$SRC/go/main.go")"
  if stamp_ok go "$want" && [ -x "$DIR/bin/compat-go" ]; then
    say "go: bin/compat-go is current"
    return
  fi
  say "go: building bin/compat-go (modules from the Go module proxy)"
  # -mod=readonly: go.mod/go.sum are complete and are not to be rewritten by a build.
  (cd "$SRC/go" && go build -mod=readonly -buildvcs=false -trimpath -o "$DIR/bin/compat-go.tmp" .) >&2 ||
    die "go: 'go build' of proxy/test/compat/go failed"
  mv -f "$DIR/bin/compat-go.tmp" "$DIR/bin/compat-go"
  stamp_set go "$want"
}

# --- Java: the pgjdbc runner -----------------------------------------------------------------------
java_deps() {
  need java "a JDK >= 17"
  need javac "a JDK >= 17 (javac)"
  need mvn "Maven >= 3.6.3"
  local want
  want="$(readlink -f "$(command -v javac)") $(cd "$SRC/java" && find pom.xml src -type f | LC_ALL=C sort | xargs cat | sha256sum | cut -d' ' -f1)"
  if stamp_ok java "$want" && [ -f "$DIR/compat.jar" ]; then
    say "java: compat.jar is current"
    return
  fi
  say "java: building compat.jar (mvn package, Maven Central)"
  local log=$DIR/java-build.log
  # The build directory lives under $DIR so that the source tree stays clean.
  if ! (cd "$SRC/java" && mvn -q -B -Dstyle.color=never -Dcompat.buildDir="$DIR/java-build" package) >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "java: 'mvn package' of proxy/test/compat/java failed (full log: $log)"
  fi
  [ -f "$DIR/java-build/compat.jar" ] || die "java: mvn package produced no compat.jar"
  cp -f "$DIR/java-build/compat.jar" "$DIR/compat.jar.tmp"
  mv -f "$DIR/compat.jar.tmp" "$DIR/compat.jar"
  stamp_set java "$want"
}

# Every runner must know exactly the scenarios of scenarios.json, in its order.
check_lists() {
  local expected
  expected=$("$DIR/venv/bin/python" -c 'import json, sys; print("\n".join(s["name"] for s in json.load(open(sys.argv[1]))))' "$SRC/scenarios.json") ||
    die "cannot read proxy/test/compat/scenarios.json"
  [ "$("$DIR/venv/bin/python" "$SRC/python/scenarios.py" --list)" = "$expected" ] ||
    die "python: scenarios.py --list differs from scenarios.json"
  [ "$("$DIR/bin/compat-go" --list)" = "$expected" ] || die "go: compat-go --list differs from scenarios.json"
  [ "$(java -jar "$DIR/compat.jar" --list)" = "$expected" ] || die "java: compat.jar --list differs from scenarios.json"
}

python_deps
go_deps
java_deps
check_lists
say "ready in $DIR"
echo "export CAIRN_COMPAT_PYTHON=$DIR/venv/bin/python"
echo "export CAIRN_COMPAT_GO=$DIR/bin/compat-go"
echo "export CAIRN_COMPAT_JAR=$DIR/compat.jar"
