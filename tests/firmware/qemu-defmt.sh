#!/usr/bin/env bash
# Cargo runner: boots the ELF on QEMU mps2-an386 (Cortex-M4F) with semihosting and decodes the
# defmt stream that the firmware writes to semihosting stdout. The exit code is the firmware's
# (semihosting SYS_EXIT), carried through the pipe by pipefail; a hang is cut by the timeout.
set -euo pipefail
elf="$1"
for tool in qemu-system-arm defmt-print; do
  command -v "$tool" >/dev/null || { echo "qemu-defmt.sh: $tool not found (see tests/firmware/README.md)" >&2; exit 127; }
done
timeout "${QEMU_TIMEOUT:-120}" qemu-system-arm \
  -cpu cortex-m4 -machine mps2-an386 \
  -display none -serial none -monitor none \
  -semihosting-config enable=on,target=native \
  -kernel "$elf" </dev/null \
  | defmt-print -e "$elf"
