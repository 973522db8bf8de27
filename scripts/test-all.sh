#!/usr/bin/env bash
# Every test of the project, from a fresh machine with a stable Rust toolchain:
# installs what it needs (targets, components), then runs formatting, lints,
# docs, the test suites, the reference cross-check, and the cross-target
# builds of the core. Ends with "N passed, M failed" over the steps and exits
# non-zero if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."

TARGETS=(thumbv7em-none-eabihf thumbv6m-none-eabi riscv32imac-unknown-none-elf wasm32-unknown-unknown)
passed=0
failed=0
failures=()

step() {
    local name=$1
    shift
    echo
    echo "==> $name"
    local start=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "--> ok: $name ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "--> FAILED: $name ($((SECONDS - start)) s)"
    fi
}

install_toolchain_parts() {
    rustup component add clippy rustfmt >/dev/null && rustup target add "${TARGETS[@]}" >/dev/null
}

cross_build_core() {
    local t
    for t in "${TARGETS[@]}"; do
        echo "core for $t"
        cargo build --quiet --release -p vicreg --target "$t" || return 1
    done
    echo "core for wasm32-unknown-unknown +simd128"
    RUSTFLAGS="-C target-feature=+simd128" cargo build --quiet --release -p vicreg \
        --target wasm32-unknown-unknown --target-dir target/simd128 || return 1
    echo "core with defmt for thumbv7em-none-eabihf"
    cargo build --quiet --release -p vicreg --features defmt --target thumbv7em-none-eabihf
}

step "install targets and components" install_toolchain_parts
step "format" cargo fmt --all --check
step "clippy" cargo clippy --workspace --all-targets -- -D warnings
step "docs" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
step "unit, property and doc tests" cargo test --workspace
step "reference vectors (crosscheck)" cargo run --release -p host-tests --bin crosscheck -- reference/vectors
step "core builds for embedded and wasm targets" cross_build_core

echo
if ((failed > 0)); then
    echo "failed steps: ${failures[*]}"
fi
echo "steps: $passed passed, $failed failed"
((failed == 0))
