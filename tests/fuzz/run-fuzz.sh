#!/bin/sh
# run-fuzz.sh — run libFuzzer targets for a set time and report execs/s and coverage.
#
# Called by `make fuzz` as: B=<build dir> FUZZ_SECONDS=N [FUZZ_MERGE=1] run-fuzz.sh TARGET...
# Each target $B/fuzz/fuzz-TARGET starts from the committed corpus
# tests/fuzz/corpus/TARGET/ (read only) and writes what it finds to
# $B/fuzz/work-TARGET/; a crash, leak, UB report or timeout leaves its input in
# $B/fuzz/artifacts-TARGET/ and makes the run fail. Uses the dictionary
# tests/fuzz/TARGET.dict when there is one. With FUZZ_MERGE=1 the new inputs
# that add coverage are merged (minimised) into the committed corpus.
# Logs: $B/fuzz/TARGET.log. Summary table on stdout.
set -eu

B=${B:-build}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
status=0
summary=""

for t in "$@"; do
	bin="$B/fuzz/fuzz-$t"
	corpus="tests/fuzz/corpus/$t"
	work="$B/fuzz/work-$t"
	art="$B/fuzz/artifacts-$t"
	log="$B/fuzz/$t.log"
	mkdir -p "$work" "$art" "$corpus"
	dict=""
	[ -f "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
	echo "fuzz: $t for ${SECONDS_PER_TARGET}s (log $log)"
	# shellcheck disable=SC2086
	if "$bin" -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -artifact_prefix="$art/" $dict "$work" "$corpus" >"$log" 2>&1; then
		result=ok
	else
		result=FAILED
		status=1
		echo "fuzz: $t FAILED; last lines of $log:" >&2
		tail -n 40 "$log" >&2
	fi
	# libFuzzer's final status line: "#N DONE cov: C ft: F corp: ... exec/s: E ..."
	done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -n 1 || true)
	cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$done_line" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	summary="$summary$(printf '%-14s %-6s %10s %8s %6s %6s %6s' "$t" "$result" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")
"
	if [ "$result" = ok ] && [ "${FUZZ_MERGE:-}" = 1 ]; then
		"$bin" -merge=1 -max_len=65536 "$corpus" "$work" >>"$log" 2>&1
		echo "fuzz: $t merged into $corpus ($(ls "$corpus" | wc -l) files)"
	fi
done

printf '\n%-14s %-6s %10s %8s %6s %6s %6s\n' target result execs exec/s cov ft corpus
printf '%s' "$summary"
exit $status
