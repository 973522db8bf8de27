#!/usr/bin/env bash
# The core's mutation score, in two passes (see TESTING.md):
#
#  1. every mutant of `core/` against the core's own unit tests (about a
#     second a mutant: only the core is rebuilt);
#  2. the mutants pass 1 missed, again, against the core's unit tests and
#     the host suite's integration tests that exercise the core (about ten
#     seconds a mutant: every test binary is relinked).
#
# A mutant counts as caught if either pass fails a test on it (or times
# out). The host tests left out of pass 2 are the slow end-to-end ones
# (ablation, the command lines, the firmware-logic adaptations), which the
# listed tests cover in the parts of the core they touch.
#
# Usage: scripts/mutation-score.sh [OUT_DIR] [extra cargo-mutants arguments,
# e.g. -f core/src/nn/linear.rs]. Needs `cargo install --locked
# cargo-mutants` (27.1 measured); not part of CI (about two hours on two
# cores).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${1:-target/mutants}
shift || true
mkdir -p "$OUT"

# The mutants measured, all of them in the core (the other packages are
# tests, examples and tools).
COMMON=(-p vicreg --features std --timeout 60 -j 2 -o "$OUT")
# Debug information costs link time and nothing here needs it.
export CARGO_PROFILE_TEST_DEBUG=0

echo "pass 1: the core's own tests"
cargo mutants "${COMMON[@]}" --cargo-test-arg=--lib "$@" || true

HOST_TESTS=(reference_vectors network layer_lists optimisers_and_augmentations
    properties robustness bad_input holes streaming agreement)
PASS2=(--test-package vicreg,host-tests --baseline skip --cargo-test-arg=--lib)
for t in "${HOST_TESTS[@]}"; do
    PASS2+=("--cargo-test-arg=--test=$t")
done

# --iterate skips what a run caught or could not build, not what hung:
# count pass 1's hung mutants as caught so that pass 2 does not wait on
# them again (and they are not counted twice).
if [[ -s $OUT/mutants.out/timeout.txt ]]; then
    cat "$OUT/mutants.out/timeout.txt" >>"$OUT/mutants.out/caught.txt"
fi

echo "pass 2: what pass 1 missed, with the host suite"
cargo mutants "${COMMON[@]}" "${PASS2[@]}" --iterate "$@" || true

# --iterate moved pass 1's results to mutants.out.old.
one=$OUT/mutants.out.old
two=$OUT/mutants.out
count() { if [[ -s $1 ]]; then wc -l <"$1"; else echo 0; fi; }
caught=$(($(count "$one/caught.txt") + $(count "$two/caught.txt") + $(count "$two/timeout.txt")))
unviable=$(($(count "$one/unviable.txt") + $(count "$two/unviable.txt")))
missed=$(count "$two/missed.txt")
viable=$((caught + missed))
echo "mutants: $((viable + unviable)), unviable: $unviable, viable: $viable"
echo "caught (failed a test or timed out): $caught, missed: $missed"
if ((viable > 0)); then
    echo "score: $(awk -v c="$caught" -v v="$viable" 'BEGIN { printf "%.1f %%", 100 * c / v }')"
fi
echo "the missed mutants: $two/missed.txt"
