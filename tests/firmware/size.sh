#!/usr/bin/env bash
# Prints the flash and RAM footprint of the release firmware ELF (builds it first).
#
#   ./size.sh            # section table + flash/RAM totals against mps2-an386's 4 MiB + 4 MiB
#
# Size tool, first found: rust-size (cargo-binutils), llvm-size from the rustup component
# llvm-tools, llvm-size on PATH (Debian package `llvm`), arm-none-eabi-size (Debian package
# `binutils-arm-none-eabi`). If none is found it runs `rustup component add llvm-tools`.
#
# Flash = .vector_table + .text + .rodata + .data (the load image of .data lives in flash).
# RAM   = .data + .bss + .uninit, i.e. static RAM only: the stack (top of RAM, growing down)
#         is not included.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

FLASH_BYTES=$((4 * 1024 * 1024))
RAM_BYTES=$((4 * 1024 * 1024))

find_size_tool() {
  local sysroot host
  if command -v rust-size >/dev/null 2>&1; then echo rust-size; return; fi
  sysroot=$(rustc --print sysroot)
  host=$(rustc -vV | sed -n 's/^host: //p')
  if [[ -x "$sysroot/lib/rustlib/$host/bin/llvm-size" ]]; then echo "$sysroot/lib/rustlib/$host/bin/llvm-size"; return; fi
  if command -v llvm-size >/dev/null 2>&1; then echo llvm-size; return; fi
  if command -v arm-none-eabi-size >/dev/null 2>&1; then echo arm-none-eabi-size; return; fi
  return 1
}

tool=$(find_size_tool) || {
  echo "size.sh: no size tool found; adding rustup component llvm-tools" >&2
  rustup component add llvm-tools >&2
  tool=$(find_size_tool) || { echo "size.sh: still no size tool (see the header of this script)" >&2; exit 1; }
}

# The ELF path as cargo reports it (honours CARGO_TARGET_DIR).
elf=$(cargo build --release --message-format=json-render-diagnostics \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[[ -n "$elf" && -f "$elf" ]] || { echo "size.sh: could not find the release ELF" >&2; exit 1; }

echo "ELF:  $elf"
echo "tool: $tool"
echo
"$tool" -A "$elf" | grep -Ev '^(\.(debug_|comment|ARM\.attributes)|Total)' | grep -v '^$'
echo
"$tool" -A "$elf" | awk -v fl="$FLASH_BYTES" -v rl="$RAM_BYTES" '
  $1 == ".vector_table" || $1 == ".text" || $1 == ".rodata" { flash += $2 }
  $1 == ".data" { flash += $2; ram += $2 }
  $1 == ".bss" || $1 == ".uninit" { ram += $2 }
  END {
    printf "flash: %8d bytes (%.1f KiB, %.2f%% of %d KiB)\n", flash, flash / 1024, 100 * flash / fl, fl / 1024
    printf "RAM:   %8d bytes (%.1f KiB, %.3f%% of %d KiB) static, stack not included\n", ram, ram / 1024, 100 * ram / rl, rl / 1024
  }'
