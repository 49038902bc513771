#!/usr/bin/env bash
# Builds the guest test programs in resources/guest/*.c as static x86-64
# executables, once with glibc (gcc -static) and once with musl (musl-gcc
# -static), into OUTDIR/glibc/NAME and OUTDIR/musl/NAME.
#
#   tools/build-guests.sh OUTDIR [NAME...]     (default: every program)
#
# A NAME is a path under resources/guest without ".c". Programs in
# subdirectories keep them: `conformance/signal` builds
# resources/guest/conformance/signal.c into OUTDIR/glibc/conformance/signal
# and OUTDIR/musl/conformance/signal. A NAME that is a directory, such as
# `conformance`, stands for every program in it. The default (no NAME) is
# resources/guest/*.c only, without subdirectories.
#
# Writes each binary atomically (temp file + rename), so concurrent callers
# sharing OUTDIR never see a half-written executable.
set -euo pipefail

if [[ $# -lt 1 ]]; then
	echo "usage: $0 OUTDIR [NAME...]" >&2
	exit 2
fi
out=$1
shift
src_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../resources/guest" && pwd)

if [[ $# -gt 0 ]]; then
	names=()
	for n in "$@"; do
		n=${n%/}
		if [[ -d $src_dir/$n ]]; then
			found=0
			for f in "$src_dir/$n"/*.c; do
				[[ -f $f ]] || continue
				names+=("$n/$(basename "$f" .c)")
				found=1
			done
			if [[ $found -eq 0 ]]; then
				echo "$0: no programs in $src_dir/$n" >&2
				exit 1
			fi
		else
			names+=("$n")
		fi
	done
else
	names=()
	for f in "$src_dir"/*.c; do
		n=$(basename "$f" .c)
		names+=("$n")
	done
fi

for cc in gcc musl-gcc; do
	if ! command -v "$cc" >/dev/null; then
		echo "$0: $cc not found (apt-get install gcc musl-tools)" >&2
		exit 1
	fi
done

mkdir -p "$out/glibc" "$out/musl"
for n in "${names[@]}"; do
	src="$src_dir/$n.c"
	[[ -f $src ]] || { echo "$0: no such guest program: $src" >&2; exit 1; }
	for libc in glibc musl; do
		case $libc in
		glibc) cc=gcc ;;
		musl) cc=musl-gcc ;;
		esac
		dst="$out/$libc/$n"
		tmp="$dst.tmp.$$"
		mkdir -p "$(dirname "$dst")"
		"$cc" -static -O2 -Wall -o "$tmp" "$src"
		mv -f "$tmp" "$dst"
	done
done
