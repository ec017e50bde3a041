#!/bin/sh
# The whole test suite: installs what it needs, builds with AddressSanitizer and
# UndefinedBehaviorSanitizer (warnings as errors), runs the unit, simulator and
# multi-process tests, then each libFuzzer target for a short while.
# Ends with "N passed, N failed"; exits non-zero on any failure.
#   --long   longer fuzzing (10 min per target) and more simulator seeds
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)

FUZZ_SECONDS=${FUZZ_SECONDS:-15}
# The short run fuzzes from a fixed seed so that a failure seen once is seen
# again on a rerun of the same commit; --long (or FUZZ_SEED=0) lets libFuzzer
# pick a new seed each run, to explore.
FUZZ_SEED=${FUZZ_SEED:-1}
LONG_SUITES="--no-suite sim-long"
if [ "${1:-}" = "--long" ]; then
	FUZZ_SECONDS=600
	FUZZ_SEED=0
	export SIM_SEEDS=${SIM_SEEDS:-10000}
	LONG_SUITES=""
fi

./scripts/deps.sh --test || { echo "dependency install failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0
failed=0
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }

setup() { # dir, meson options...
	dir=$1; shift
	if [ -f "$dir/build.ninja" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
}

# 1. Sanitized build; every meson test counts once.
if setup build-test -Dsanitizers=address,undefined -Dtests=true && ninja -C build-test; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		meson test -C build-test --print-errorlogs --num-processes 2 $LONG_SUITES
	counts=$(python3 - build-test/meson-logs/testlog.json <<'PY'
import json, sys
ok = bad = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL", "SKIP"):
        ok += 1
    else:
        bad += 1
        print("meson test failed:", json.loads(line)["name"], r, file=sys.stderr)
print(ok, bad)
PY
)
	passed=$((passed + ${counts% *}))
	failed=$((failed + ${counts#* }))
else
	fail "sanitized build"
fi

# 2. Fuzz targets (clang + libFuzzer): each runs its seed corpus, then fuzzes.
if CC=clang setup build-fuzz -Dfuzz=true -Dtests=true && ninja -C build-fuzz; then
	seeds=$(mktemp -d)
	build-fuzz/tests/fuzz/fuzz_seeds "$seeds" >/dev/null
	mkdir -p "$seeds/fuzz_swim_proto"
	build-fuzz/tests/fuzz/gen_swim_seeds "$seeds/fuzz_swim_proto" >/dev/null
	for exe in build-fuzz/tests/fuzz/fuzz_*; do
		[ -f "$exe" ] && [ -x "$exe" ] || continue
		name=$(basename "$exe")
		[ "$name" = fuzz_seeds ] && continue
		corpus=$(mktemp -d)
		[ -d "$seeds/$name" ] && cp -r "$seeds/$name/." "$corpus/"
		[ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$corpus/"
		if (cd "$corpus" && "$ROOT/$exe" -max_total_time="$FUZZ_SECONDS" -seed="$FUZZ_SEED" -print_final_stats=0 . \
			>"$corpus.log" 2>&1); then
			passed=$((passed + 1))
			echo "$name: $(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$corpus.log" | tail -1)"
		else
			fail "$name (log follows)"
			tail -40 "$corpus.log"
			for input in "$corpus"/crash-* "$corpus"/leak-* "$corpus"/timeout-* "$corpus"/oom-*; do
				[ -f "$input" ] || continue
				echo "input that failed, base64 ($(basename "$input")):"
				base64 -w 0 "$input" | head -c 8192
				echo
			done
		fi
		rm -rf "$corpus" "$corpus.log"
	done
	rm -rf "$seeds"
else
	fail "fuzz build"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
