#!/usr/bin/env bash
# The consumer test: what a user outside this repository gets. Builds and packs the three packages
# (pnpm pack: workspace versions rewritten, publishConfig applied), installs the tarballs with npm
# into a fresh folder outside the repository, and there:
#   1. runs `node app.mjs` (plain Node, no loader): two actor systems, an actor resolved and asked
#      over tcp, tls (certificates from the installed @helios/transport/testing) and udp;
#   2. runs `node app.cjs`: require() of every entry point from CommonJS;
#   3. type-checks consumer.ts with strict and skipLibCheck: false;
#   4. runs `npx helios --help`, then `helios node --transport tls` and `helios ping` (the installed
#      bin; its development certificates are made in-process on first use);
#   5. runs publint and @arethetypeswrong/cli (ESM-only profile) on each tarball.
# Prints the tarball sizes. Exit code 0 only if every step passed.
#
#   npx -y pnpm@12.4.2 test:consumer        (or: bash tests/consumer/run.sh)
#   KEEP=1 ... keeps the temp folder and prints where it is.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/helios-consumer-XXXXXX")"
node_pid=
cleanup() {
  if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; fi
  if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
pnpm=(npx -y pnpm@12.4.2)
npm_install=(npm install --no-audit --no-fund --loglevel=error)
packages=(transport codec actors)
step() { printf '\n== %s\n' "$*"; }

step "build and pack (pnpm pack) into $work/tarballs"
rm -rf "$root"/packages/*/dist "$root"/.tsbuild/dist-*.tsbuildinfo
mkdir -p "$work/tarballs"
for p in "${packages[@]}"; do
  (cd "$root/packages/$p" && "${pnpm[@]}" pack --pack-destination "$work/tarballs" >/dev/null)
done
tarballs=("$work"/tarballs/*.tgz)
printf '%-32s %10s %12s %6s\n' tarball packed unpacked files
for t in "${tarballs[@]}"; do
  packed=$(stat -c %s "$t")
  unpacked=$(tar tvzf "$t" | awk '{ s += $3 } END { print s }')
  files=$(tar tzf "$t" | wc -l)
  awk -v n="$(basename "$t")" -v p="$packed" -v u="$unpacked" -v f="$files" 'BEGIN { printf "%-32s %7.1f kB %9.1f kB %6d\n", n, p / 1000, u / 1000, f }'
done
for t in "${tarballs[@]}"; do
  if tar xzf "$t" -O package/package.json | grep -q 'workspace:'; then echo "$(basename "$t"): a workspace: range was not rewritten" >&2; exit 1; fi
done

step "npm install of the tarballs into $work/app (a folder outside the repository)"
mkdir -p "$work/app"
cp "$root"/tests/consumer/app/* "$work/app/"
cd "$work/app"
printf '{ "name": "helios-consumer", "private": true, "type": "module" }\n' > package.json
"${npm_install[@]}" "${tarballs[@]}" typescript@~5.9.3 @types/node@^20.19.0
npm ls --depth=0

step "node app.mjs (plain node, no loader)"
node app.mjs

step "node app.cjs (require from CommonJS, node $(node --version))"
node app.cjs

step "tsc: consumer.ts with strict and skipLibCheck: false"
npx --no-install tsc -p tsconfig.json
echo "type-check ok"

step "npx helios --help"
npx --no-install helios --help

step "helios node --transport tls, then helios ping it (the installed bin)"
./node_modules/.bin/helios node --transport tls --port 0 --name consumer > "$work/node.log" 2>&1 &
node_pid=$!
path=
for _ in $(seq 1 150); do
  path=$(grep -o 'helios\.tls://[^ ]*/user/echo' "$work/node.log" | head -n 1 || true)
  if [ -n "$path" ]; then break; fi
  sleep 0.1
done
if [ -z "$path" ]; then cat "$work/node.log" >&2; echo "helios node did not start" >&2; exit 1; fi
./node_modules/.bin/helios ping "$path" --count 3 --interval 20
kill -INT "$node_pid"
wait "$node_pid"
node_pid=
cat "$work/node.log"

step "publint and attw (--profile esm-only: the packages are ESM only) on each tarball"
mkdir -p "$work/tools"
cd "$work/tools"
printf '{ "name": "helios-consumer-tools", "private": true }\n' > package.json
"${npm_install[@]}" publint@^0.3.25 @arethetypeswrong/cli@^0.18.5
for t in "${tarballs[@]}"; do
  echo "-- $(basename "$t")"
  npx --no-install publint run "$t" --level warning
  npx --no-install attw "$t" --profile esm-only --format ascii
done

step "consumer test passed"
