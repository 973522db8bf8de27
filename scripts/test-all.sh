#!/usr/bin/env bash
# Every test of the project, from a fresh machine with a stable Rust toolchain:
# installs what it needs (Rust targets and components; QEMU, ARM binutils and
# Chromium from Debian; defmt-print from crates.io; playwright-core from npm),
# then runs formatting, lints, docs, the test suites, the reference
# cross-check, the cross-target builds of the core, the Cortex-M4F firmware
# under QEMU, and the WebAssembly module under Node and in headless Chromium.
# Ends with "N passed, M failed" over the steps and exits non-zero if any step
# failed. Screenshots and logs go to artifacts/.
set -uo pipefail
cd "$(dirname "$0")/.."

TARGETS=(thumbv7em-none-eabihf thumbv6m-none-eabi riscv32imac-unknown-none-elf wasm32-unknown-unknown i686-unknown-linux-gnu)
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

install_device_tools() {
    local need=()
    command -v qemu-system-arm >/dev/null || need+=(qemu-system-arm)
    command -v arm-none-eabi-size >/dev/null || need+=(binutils-arm-none-eabi)
    command -v chromium >/dev/null || need+=(chromium)
    [[ -e /usr/lib32/libc.so || -e /usr/lib/i386-linux-gnu/libc.so ]] || need+=(gcc-multilib)
    if ((${#need[@]})); then
        echo "installing ${need[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || return 1
    fi
    command -v defmt-print >/dev/null || cargo install --quiet --locked defmt-print --version 1.2.0 || return 1
    (cd examples/wasm/test && npm ci --no-audit --no-fund --silent)
}

FIRMWARE_ELF=examples/firmware/target/thumbv7em-none-eabihf/release

firmware_lints() {
    local d
    for d in firmware firmware-support watch-firmware camera-firmware; do
        (cd "examples/$d" && cargo fmt --check && cargo clippy --release -- -D warnings) || return 1
    done
}

WATCH_ELF=examples/watch-firmware/target/thumbv7em-none-eabihf/release/watch-firmware

# The watch firmware (linked for a 1 MiB / 256 KiB part) fine-tunes the
# sensor job's encoder on recordings from the other wrist, in effective
# batches of 20 streamed one at a time; it exits non-zero unless the encoder
# adapted.
watch_under_qemu() {
    (cd examples/watch-firmware && cargo run --release) || return 1
    arm-none-eabi-size "$WATCH_ELF"
}

CAMERA_ELF=examples/camera-firmware/target/thumbv7em-none-eabihf/release/camera-firmware

# The camera firmware (linked for a 1 MiB / 256 KiB part) fine-tunes a CNN on
# digits as another camera sees them, in streamed micro-batches; it exits
# non-zero unless the encoder adapted.
camera_under_qemu() {
    (cd examples/camera-firmware && cargo run --release) || return 1
    arm-none-eabi-size "$CAMERA_ELF"
}

# Builds and boots both firmware binaries on QEMU's Cortex-M4F (through the
# crate's cargo runner); each exits non-zero unless it succeeded.
firmware_under_qemu() {
    (cd examples/firmware && cargo run --release --bin fine-tune && cargo run --release --bin loss-cost) || return 1
    arm-none-eabi-size "$FIRMWARE_ELF/fine-tune" "$FIRMWARE_ELF/loss-cost"
}

# An effective batch of 512 streamed through micro-batches of 8 in the same
# 64 KiB part: the held-out loss must fall by 10 %.
big_batch_under_qemu() {
    (cd examples/firmware && cargo run --release --bin big-batch) || return 1
    arm-none-eabi-size "$FIRMWARE_ELF/big-batch"
}

# The same firmware printing through defmt, decoded on the host by the
# crate's cargo runner (which pipes QEMU into defmt-print). Every stage of the
# pipe must succeed (the runner exits with the firmware's verdict), and the
# decoded log must say so too.
firmware_with_defmt() {
    (cd examples/firmware && cargo run --release --features defmt --bin fine-tune) | tee artifacts/firmware-defmt.log
    local status=("${PIPESTATUS[@]}")
    if [[ "${status[*]}" != "0 0" ]]; then
        echo "cargo run (QEMU, defmt-print) and tee exited ${status[*]}"
        return 1
    fi
    grep -q "adapted: loss fell" artifacts/firmware-defmt.log &&
        # The weighted terms, as the host jobs print them.
        grep -q "λ·invariance" artifacts/firmware-defmt.log
}

# The core and the host tests on a 32-bit target (sizes computed from
# untrusted bytes must not wrap), with overflow checks on.
tests_on_32_bits() {
    cargo test --quiet -p vicreg -p host-tests -p vicreg-tools --target i686-unknown-linux-gnu --tests
}

# The firmware's logic (sensor stream, fine-tuning loop) for a part without an
# FPU and for RISC-V.
firmware_logic_portability() {
    local crate
    for crate in sensor-adapt motion-adapt camera-adapt; do
        cargo build --quiet --release -p "$crate" --target thumbv6m-none-eabi &&
            cargo build --quiet --release -p "$crate" --target riscv32imac-unknown-none-elf || return 1
    done
}

# The nightly toolchain with Miri, and cargo-fuzz, for the robustness steps.
install_nightly_tools() {
    rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal || return 1
    rustup +nightly component add miri rust-src >/dev/null || return 1
    command -v cargo-fuzz >/dev/null || cargo install --quiet --locked cargo-fuzz --version 0.13.2 || return 1
    command -v cargo-deny >/dev/null || cargo install --quiet --locked cargo-deny --version 0.20.2
}

miri_core() {
    cargo +nightly miri test -p vicreg --lib --no-default-features &&
        # The run-time dispatched AVX2/FMA kernels (the crate's only unsafe
        # code): built with the features on, so detection finds them.
        RUSTFLAGS="-C target-feature=+avx2,+fma" \
            cargo +nightly miri test -p vicreg --lib --no-default-features --features std -- lanes:: linear:: adamw_kernel
}

dependency_policy() {
    cargo deny --all-features check licenses bans sources
}

# A bounded run of every fuzz target: no panic, no hang, no failed invariant.
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
fuzz_targets() {
    local t failed=0
    for t in loss train_step checkpoint stream import_npy import_safetensors; do
        echo "fuzzing $t for $FUZZ_SECONDS s"
        if (cd fuzz && cargo +nightly fuzz run "$t" -- -max_total_time="$FUZZ_SECONDS" -print_final_stats=1) \
            >"artifacts/fuzz-$t.log" 2>&1; then
            grep -E "DONE|stat::number_of_executed_units" "artifacts/fuzz-$t.log"
        else
            echo "fuzz target $t FAILED:"
            tail -n 40 "artifacts/fuzz-$t.log"
            failed=1
        fi
    done
    return $failed
}

WASM=examples/wasm/target/wasm32-unknown-unknown/release/vicreg_wasm.wasm

wasm_build() {
    (cd examples/wasm && cargo fmt --check && cargo clippy --release -- -D warnings &&
        cargo build --release --lib --target wasm32-unknown-unknown && cargo build --release --bin native-reference)
}

wasm_under_node() {
    node examples/wasm/test/node-train.mjs "$WASM" data/digits.csv examples/wasm/target/release/native-reference
}

wasm_in_chromium() {
    node examples/wasm/test/browser.mjs "$WASM" data/digits.csv artifacts/web-training.png
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

mkdir -p artifacts
step "install targets and components" install_toolchain_parts
step "install QEMU, binutils, Chromium, defmt-print, playwright-core" install_device_tools
step "install nightly with Miri, cargo-fuzz, cargo-deny" install_nightly_tools
step "format" cargo fmt --all --check
step "clippy" cargo clippy --workspace --all-targets -- -D warnings
step "docs" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
step "unit, property and doc tests" cargo test --workspace
step "core and host tests on a 32-bit target (i686)" tests_on_32_bits
step "reference vectors (crosscheck)" cargo run --release -p vicreg-tools --bin crosscheck -- reference/vectors
streamed_crosscheck() {
    for k in 1 3 7; do
        cargo run --release -p vicreg-tools --bin crosscheck -- --micro-batch "$k" reference/vectors || return 1
    done
}
step "reference vectors streamed in micro-batches of 1, 3, 7 (crosscheck)" streamed_crosscheck
step "core builds for embedded and wasm targets" cross_build_core
step "firmware: format and clippy" firmware_lints
step "firmware: fine-tuning and loss cost on a Cortex-M4F (QEMU)" firmware_under_qemu
step "firmware: effective batch of 512 in 64 KiB, streamed (QEMU)" big_batch_under_qemu
step "firmware: defmt output decoded on the host" firmware_with_defmt
step "watch firmware: the sensor job's encoder adapts to the other wrist (QEMU)" watch_under_qemu
step "camera firmware: CNN adapts to another camera, streamed (QEMU)" camera_under_qemu
step "firmware logic (sensor, watch, camera) builds for thumbv6m and riscv32imac" firmware_logic_portability
step "wasm: format, clippy, build (+simd128) and native reference" wasm_build
step "wasm: training under Node agrees with the native build" wasm_under_node
step "wasm: the page trains in headless Chromium" wasm_in_chromium
step "core unit tests under Miri" miri_core
step "dependency licences and sources (cargo deny)" dependency_policy
step "fuzz every target for $FUZZ_SECONDS s" fuzz_targets

echo
if ((failed > 0)); then
    echo "failed steps: ${failures[*]}"
fi
echo "steps: $passed passed, $failed failed"
((failed == 0))
