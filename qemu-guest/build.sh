#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build convert-guest.bin (a 64 KiB -bios image) with the system's gcc and
# binutils into $1 (default: build/qemu-guest).
set -euo pipefail
SRC=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$SRC/../build/qemu-guest}
mkdir -p "$OUT"
CFLAGS=(-m32 -march=i686 -Os -std=gnu11 -Wall -Wextra -Werror -ffreestanding -fno-builtin
	-fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables -fcf-protection=none)
gcc "${CFLAGS[@]}" -c "$SRC/entry.S" -o "$OUT/entry.o"
gcc "${CFLAGS[@]}" -c "$SRC/convert-guest.c" -o "$OUT/convert-guest.o"
ld -m elf_i386 -nostdlib -T "$SRC/convert-guest.ld" -o "$OUT/convert-guest.elf" \
	"$OUT/entry.o" "$OUT/convert-guest.o"
objcopy -O binary "$OUT/convert-guest.elf" "$OUT/convert-guest.bin"
size=$(stat -c %s "$OUT/convert-guest.bin")
[ "$size" -eq 65536 ] || { echo "convert-guest.bin is $size bytes, not 64 KiB" >&2; exit 1; }
echo "$OUT/convert-guest.bin"
