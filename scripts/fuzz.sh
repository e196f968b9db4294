#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for a short budget, starting from
# the corpus kept in the repository (fuzz/corpus/TARGET), which libFuzzer
# replays in full first: every input that once found new code is checked
# again on every run. A crash, a failed assertion, a leak or a timeout fails
# the run and leaves the input in fuzz/artifacts/TARGET.
#
#   scripts/fuzz.sh                 every target, FUZZ_SECONDS each (default 20)
#   scripts/fuzz.sh TARGET...       these targets
#   FUZZ_KEEP=1 scripts/fuzz.sh     also minimise what was found into the kept
#                                   corpus (cargo fuzz cmin), to commit
#
# Needs a nightly toolchain and cargo-fuzz; installs both when missing
# (rustup, cargo install), so a fresh machine runs it as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
# libFuzzer's own per-input limit: a slow input is a bug (a quadratic path a
# packet can trigger), not something to wait out.
per_input_timeout=${FUZZ_TIMEOUT:-10}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz: installing the nightly toolchain (cargo-fuzz needs it for the sanitizer)"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz: no targets found in fuzz/" >&2; exit 1; }

# The kept corpus is not written to by a run (CI runs on a clean clone, and a
# developer's tree stays as committed): new inputs go to a scratch directory.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for t in "${targets[@]}"; do
  kept=fuzz/corpus/$t
  [ -d "$kept" ] || { echo "fuzz: $t has no kept corpus ($kept); make one with FUZZ_KEEP=1" >&2; exit 1; }
  mkdir -p "$scratch/$t" "fuzz/artifacts/$t"
  echo "fuzz: $t for ${seconds}s from $(find "$kept" -type f | wc -l) kept inputs"
  cargo +nightly fuzz run "$t" "$scratch/$t" "$kept" -- \
    -max_total_time="$seconds" -timeout="$per_input_timeout" -rss_limit_mb=1024 \
    -print_final_stats=1 2>"$scratch/$t.log" || {
      tail -40 "$scratch/$t.log" >&2
      echo "fuzz: $t FAILED; the input is in fuzz/artifacts/$t" >&2
      exit 1
    }
  grep -E "stat::number_of_executed_units|stat::new_units_added" "$scratch/$t.log" | sed "s/^/fuzz: $t /"
  if [ "${FUZZ_KEEP:-0}" = 1 ]; then
    cp -n "$scratch/$t"/* "$kept"/ 2>/dev/null || true
    cargo +nightly fuzz cmin "$t" "$kept" >/dev/null 2>&1
    echo "fuzz: $t kept corpus now $(find "$kept" -type f | wc -l) inputs"
  fi
done
echo "fuzz: all ${#targets[@]} targets ran ${seconds}s each without a failure"
