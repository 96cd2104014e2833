#!/usr/bin/env bash
# The project's whole test run, as the README gives it (`make test`): makes the machine ready, checks
# types and generated files, then runs the tiers in order of cost — unit (loopback only), integration
# (a real control plane built from upstream), end to end (a real node) — and closes with one line
# that adds them up. TIERS=unit,integration limits the tiers; a later tier runs even if an earlier
# one failed, so one run shows everything that is wrong.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

tiers="${TIERS:-unit,integration,e2e}"
results="$root/.cache/test-results"

bash scripts/bootstrap.sh || { echo "test: bootstrap failed: nothing was tested" >&2; exit 1; }
export PATH="$root/node_modules/.bin:$PATH"
rm -rf "$results" && mkdir -p "$results"

status=0
banner() { printf '\n== test: %s\n' "$*"; }

banner "types (tsc --noEmit)"
tsc --noEmit -p tsconfig.json || { echo "test: the type check failed" >&2; status=1; }

banner "generated files are current (npm run generate --check)"
node schema/generate.ts --check || { echo "test: regenerate with 'npm run generate' and commit the result" >&2; status=1; }

reports=()
run_tier() { # <project>
  local project="$1" extra=()
  # Integration and e2e suites share one cluster and start operators of their own: one file at a time.
  [[ "$project" == unit ]] && extra=(--maxWorkers=2) || extra=(--runInBand)
  banner "$project tests"
  reports+=("$results/$project.json")
  # --forceExit: a leaked handle must not hang CI for an hour; the suites that care about leaks
  # count open handles themselves and fail.
  node --experimental-vm-modules node_modules/jest/bin/jest.js --ci --forceExit --selectProjects "$project" \
    "${extra[@]}" --json --outputFile="$results/$project.json" || status=1
}

IFS=, read -r -a wanted <<<"$tiers"
for tier in "${wanted[@]}"; do
  case "$tier" in
    unit|integration|e2e) run_tier "$tier" ;;
    *) echo "test: unknown tier '$tier' in TIERS (known: unit, integration, e2e)" >&2; status=1 ;;
  esac
done

banner "summary"
node scripts/test-summary.ts "${reports[@]}" || status=1
exit $status
