#!/usr/bin/env bash
# Cargo runner for the firmware examples: boots an ELF on QEMU's Cortex-M4F
# board (mps2-an386) with instruction-counting time (-icount shift=0, so that
# SysTick counts instructions); output and exit status go through
# semihosting. A firmware built with the `defmt` feature (its ELF has a
# .defmt section) is decoded on the fly by defmt-print, so
# `cargo run --release --features defmt` prints readable lines too. Exits with
# the firmware's status; a hang ends after two minutes.
set -uo pipefail
elf=$1
shift
qemu=(timeout 120 qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none
    -icount shift=0 -semihosting-config enable=on,target=native -kernel "$elf" "$@")
if readelf -S "$elf" 2>/dev/null | grep -q '\.defmt'; then
    if ! command -v defmt-print >/dev/null; then
        echo "this firmware prints through defmt: install the decoder with 'cargo install defmt-print'" >&2
        exit 2
    fi
    "${qemu[@]}" | defmt-print -e "$elf"
else
    "${qemu[@]}"
fi
