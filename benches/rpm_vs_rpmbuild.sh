#!/usr/bin/env bash
# Packages the same release binary (this repo's `trainyard`) with trainyard's in-process
# writer and with `rpmbuild -bb` from a minimal spec, at equal compression settings, and
# prints each one's time and the ratio. Then times writing this repo's whole collection (its
# RPM and one rust-NAME-devel per crate of Cargo.lock) with `cargo xtask build_rpms`, cold
# (fingerprint cache and output removed) and warm (again, nothing changed).
# Not a test: run it by hand.
#
# usage: benches/rpm_vs_rpmbuild.sh [REPETITIONS] [SETTINGS...]
#   SETTINGS like zstd:19 (default: zstd:3 zstd:19 gzip:9); single-threaded on both sides.
#   COLLECTION=0 skips the collection part.
#
# The writer is timed twice: built in release, and built in the dev profile as `cargo xtask`
# runs it (where the workspace's [profile.dev.package.*] settings apply to zstd and sha2).
#
# Both sides do the same work: copy the payload, generate shared-library requires from the
# ELF file, compress, write. rpmbuild's post-install steps that trainyard does not do
# (strip, debuginfo, build-id links, brp scripts) are turned off, to its advantage.
set -euo pipefail
cd "$(dirname "$0")/.."

reps=${1:-5}
shift || true
settings=("$@")
[ ${#settings[@]} -gt 0 ] || settings=(zstd:3 zstd:19 gzip:9)

command -v rpmbuild >/dev/null || { echo "rpmbuild not found: apt-get install -y rpm" >&2; exit 3; }
cargo build --release --quiet -p trainyard-cli
cargo build --release --quiet -p trainyard --example write_rpm
cargo build --quiet -p trainyard --example write_rpm
bin=$PWD/target/release/trainyard
writer=$PWD/target/release/examples/write_rpm
dev_writer=$PWD/target/debug/examples/write_rpm
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export SOURCE_DATE_EPOCH=1700000000

cat >"$tmp/bench.spec" <<'SPEC'
Name:           trainyard
Version:        1.0
Release:        1
Summary:        Benchmark package
License:        MIT
%define debug_package %{nil}
%define __os_install_post %{nil}
%define _build_id_links none
%description
One binary, packaged to compare writers.
%install
install -D -m 0755 %{bench_binary} %{buildroot}/usr/bin/trainyard
%files
/usr/bin/trainyard
SPEC

now() { date +%s.%N; }
echo "binary: $bin ($(stat -c %s "$bin") bytes), $reps repetitions, median seconds"
printf '%-10s %12s %12s %12s %8s %8s %14s %14s\n' setting trainyard "(dev prof.)" rpmbuild ratio "(dev)" \
    "trainyard size" "rpmbuild size"
for setting in "${settings[@]}"; do
    kind=${setting%%:*}
    level=${setting##*:}
    case $kind in
        zstd) payload="w${level}.zstdio" ;;
        gzip) payload="w${level}.gzdio" ;;
        *) echo "unknown setting $setting" >&2; exit 2 ;;
    esac
    ours=() dev=() theirs=()
    for _ in $(seq "$reps"); do
        rm -rf "$tmp/ours" "$tmp/dev" "$tmp/top"
        td=$(now)
        "$dev_writer" "$bin" "$tmp/dev" "$kind" "$level" >/dev/null
        t0=$(now)
        "$writer" "$bin" "$tmp/ours" "$kind" "$level" >/dev/null
        t1=$(now)
        rpmbuild -bb --quiet "$tmp/bench.spec" \
            --define "_topdir $tmp/top" \
            --define "bench_binary $bin" \
            --define "_binary_payload $payload" >/dev/null 2>"$tmp/rpmbuild.log" \
            || { cat "$tmp/rpmbuild.log" >&2; exit 1; }
        t2=$(now)
        dev+=("$(awk "BEGIN {print $t0 - $td}")")
        ours+=("$(awk "BEGIN {print $t1 - $t0}")")
        theirs+=("$(awk "BEGIN {print $t2 - $t1}")")
    done
    median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
    m_ours=$(median "${ours[@]}")
    m_dev=$(median "${dev[@]}")
    m_theirs=$(median "${theirs[@]}")
    size_ours=$(stat -c %s "$tmp"/ours/*.rpm)
    size_theirs=$(stat -c %s "$tmp"/top/RPMS/*/*.rpm)
    cmp -s "$tmp"/ours/*.rpm "$tmp"/dev/*.rpm || { echo "release and dev builds of the writer differ" >&2; exit 1; }
    printf '%-10s %12.3f %12.3f %12.3f %7.2fx %7.2fx %14s %14s\n' "$setting" "$m_ours" "$m_dev" "$m_theirs" \
        "$(awk "BEGIN {print $m_theirs / $m_ours}")" "$(awk "BEGIN {print $m_theirs / $m_dev}")" "$size_ours" "$size_theirs"
done
echo "ratio = rpmbuild time / trainyard time (above 1: trainyard is faster)"

[ "${COLLECTION:-1}" = 0 ] && exit 0
# The whole collection, as `cargo xtask build_rpms` writes it (prod: zstd 19), into its own
# directory. Its fingerprint cache is target/trainyard/rpm-cache/<first 16 hex digits of the
# SHA-256 of the output path>.json (see build_rpms::cache_path); removing it and the output
# makes the run cold. The build and `cargo vendor` are done once before, so only writing is timed.
out=$PWD/target/bench-collection
cache_of() { echo "$PWD/target/trainyard/rpm-cache/$(printf '%s' "$1" | sha256sum | cut -c1-16).json"; }
cache=$(cache_of "$out")
unset RPM_CHANNEL
collection() {
    local t0 t1
    t0=$(now)
    cargo xtask build_rpms --out "$out" 2>"$tmp/collection.log" || { cat "$tmp/collection.log" >&2; exit 1; }
    t1=$(now)
    printf '%-6s %8.1f s   %s\n' "$1" "$(awk "BEGIN {print $t1 - $t0}")" \
        "$(grep -o '[0-9]* packages ([0-9]* encoded.*' "$tmp/collection.log")"
}
echo
echo "collection of this repo: cargo xtask build_rpms --out target/bench-collection (wall time, then the write step)"
# Build (stripped, as build_rpms does) outside the timing.
cargo xtask build_rpms --no-deps --out "$tmp/warmup" >/dev/null 2>&1 || true
rm -f "$(cache_of "$tmp/warmup")"
rm -rf "$out" "$cache"
collection cold
collection warm
du -sh "$out" | awk '{print "size:", $1}'
rm -rf "$out" "$cache"
