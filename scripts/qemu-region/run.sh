#!/usr/bin/env bash
# Instructions a Cortex-M4F firmware executes inside some functions, exactly
# (no sampling), under QEMU with the plugin in region.c:
#
#   scripts/qemu-region/run.sh ELF CALLS FUNCTION...
#
# counts the instructions inside the first CALLS calls of the named
# functions (a call of one counts once, whatever it calls; 0: every call).
# FUNCTION is a substring of a demangled symbol, as arm-none-eabi-nm -C
# prints it. For the watch's convolutions in its first (measured) step:
#
#   cd examples/watch-firmware && cargo build --release
#   ../../scripts/qemu-region/run.sh target/thumbv7em-none-eabihf/release/watch-firmware 1080 \
#       conv2d::forward conv2d::backward
#
# (1,080 calls: 20 rows of two views through the step's eight stages, 21
# forward passes of the three Conv1d layers and 6 backward passes a row of a
# view.) Needs gcc, qemu-system-arm and binutils-arm-none-eabi.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
elf=$1 calls=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -shared -fPIC -o "$work/region.so" "$here/region.c"
plugin="$work/region.so,out=$work/region.txt,first=$calls"
for f in "$@"; do
    line=$(arm-none-eabi-nm -C -S "$elf" | grep -F "$f" | grep -E " [tT] " | head -1)
    [ -n "$line" ] || { echo "no function matching '$f' in $elf" >&2; exit 2; }
    read -r start size _ <<<"$line"
    s=$((16#$start & ~1)) e=$((16#$start + 16#$size))
    plugin+=",enter=$(printf %x $s)"
    # Thumb returns: pop {…, pc}, bx lr, ldr pc, [sp], #4.
    while read -r a; do plugin+=",leave=$a"; done < <(
        arm-none-eabi-objdump -d --no-show-raw-insn --start-address=$s --stop-address=$e "$elf" |
            grep -E '^\s+[0-9a-f]+:\s+(pop(\.w)?\s+\{[^}]*pc\}|bx\s+lr|ldr(\.w)?\s+pc)' | awk -F: '{gsub(/ /, "", $1); print $1}'
    )
done
timeout 600 qemu-system-arm -machine mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none -icount shift=0 \
    -semihosting-config enable=on,target=native -kernel "$elf" -plugin "$plugin" -d plugin >"$work/firmware.txt" 2>&1 || true
grep -E "flops|instructions" "$work/firmware.txt" || true
cat "$work/region.txt"
