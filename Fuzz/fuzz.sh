#!/usr/bin/env bash
# Builds the libFuzzer targets (address sanitizer + libFuzzer, with Swift's bounds and overflow
# checks) from the parsers' own sources, seeds each corpus from the test fixtures, and runs each
# target for FUZZ_SECONDS. A crash leaves its input in .build/fuzz/crashes/<target>/ and fails.
#   Fuzz/fuzz.sh build            build only
#   Fuzz/fuzz.sh run [target...]  build, then run (all targets by default)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.build/fuzz
SECONDS_EACH=${FUZZ_SECONDS:-30}
TARGETS_ALL="safetensors modelconfig tokenizer tokfile mail records"
SWIFTC=${SWIFTC:-swiftc}
FLAGS=(-sanitize=fuzzer,address -parse-as-library -O -g)
mkdir -p "$OUT/bin" "$OUT/lib"

sources() {
  case $1 in
    safetensors) echo Sources/SafeTensors/*.swift ;;
    modelconfig) echo Sources/ModelFormat/*.swift ;;
    tokenizer|tokfile) echo Sources/Tokenizer/*.swift ;;
    mail|records) echo Sources/Corpus/Email.swift Sources/Corpus/Importers.swift Sources/Corpus/Record.swift ;;
  esac
}

build() {
  # The parsers import Support: built once as a module the targets link, without its hashing
  # file (the only one that needs swift-crypto, which a bare swiftc build cannot import; none of
  # the fuzzed parsers hashes anything).
  local support
  support=$(ls Sources/Support/*.swift | grep -v '/Hashing.swift$')
  if [ ! -f "$OUT/lib/libSupport.a" ] || [ -n "$(find Sources/Support -name '*.swift' -newer "$OUT/lib/libSupport.a")" ]; then
    $SWIFTC "${FLAGS[@]}" -module-name Support -emit-module -emit-module-path "$OUT/lib/Support.swiftmodule" \
      -emit-library -static $support -o "$OUT/lib/libSupport.a"
  fi
  for t in $TARGETS_ALL; do
    local bin="$OUT/bin/$t" newest
    newest=$(ls -t Fuzz/$t.swift Fuzz/common.swift $(sources $t) | head -1)
    if [ -f "$bin" ] && [ "$bin" -nt "$newest" ]; then continue; fi
    echo "fuzz: building $t"
    $SWIFTC "${FLAGS[@]}" -module-name "Fuzz_$t" -I "$OUT/lib" -L "$OUT/lib" -lSupport \
      Fuzz/common.swift Fuzz/$t.swift $(sources $t) -o "$bin" 2> >(grep -v "Cannot export local symbol" >&2)
  done
}

# Seeds: the test fixtures, each prefixed with the target's selector byte where it has one.
seed() {
  local t=$1 d="$OUT/seeds/$t"
  rm -rf "$d"; mkdir -p "$d"
  local F=Tests
  case $t in
    safetensors) cp $F/GPTTests/Fixtures/tiny-hf/model.safetensors "$d/tiny"; cp Fuzz/seeds/safetensors/* "$d/" 2>/dev/null || true ;;
    modelconfig) { printf C; cat $F/GPTTests/Fixtures/tiny-hf/config.json; } > "$d/config"
                 printf 'I{"metadata":{},"weight_map":{"wte.weight":"model-00001.safetensors","h.0.ln_1.weight":"model-00002.safetensors"}}' > "$d/index" ;;
    tokenizer)   { printf J; cat $F/TokenizerTests/Fixtures/trained/tokenizer.json; } > "$d/json"
                 { printf V; cat $F/TokenizerTests/Fixtures/trained/vocab.json; printf '\0'; cat $F/TokenizerTests/Fixtures/trained/merges.txt; } > "$d/vocab" ;;
    tokfile)     printf 'SHTK\1\0\0\0\2\0\0\0\0\1\0\0\3\0\0\0\0\0\0\0\1\0\2\0\3\0' > "$d/tok" ;;
    mail)        { printf B; cat $F/CorpusTests/Fixtures/sample.mbox; } > "$d/mbox"
                 i=0; for f in $(find $F/CorpusTests/Fixtures/maildir -type f | sort); do i=$((i+1)); { printf M; cat "$f"; } > "$d/msg$i"; done ;;
    records)     { printf C; cat $F/CorpusTests/Fixtures/emails.csv; } > "$d/csv"
                 { printf J; head -c 4000 $F/PIITests/Fixtures/pii_eval.jsonl; } > "$d/jsonl" ;;
  esac
  # Every hostile fixture of the tests is a seed too.
  for f in Tests/ShallotCLITests/Fixtures/hostile/$t/* ; do [ -f "$f" ] && cp "$f" "$d/" || true; done
}

# -detect_leaks=0 and ASAN_OPTIONS=detect_leaks=0: the targets hunt memory corruption and signals;
# LeakSanitizer reports a 4 KiB leak inside Foundation's Data(contentsOf:) on a failed read (its
# error path, not Shallot's code), which would fail a run without finding anything wrong with the
# parsers.
run() {
  local t=$1 work="$OUT/corpus/$t" crashes="$OUT/crashes/$t"
  export ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"   # at exit too (see above)
  mkdir -p "$work" "$crashes"
  seed "$t"
  echo "fuzz: $t for ${SECONDS_EACH}s"
  "$OUT/bin/$t" "$work" "$OUT/seeds/$t" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=3072 \
    -timeout=20 -detect_leaks=0 -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 | tee "$OUT/$t.log" | grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" || true
  ! grep -qE "==[0-9]+==ERROR|Test unit written|deadly signal" "$OUT/$t.log"
}

build
[ "${1:-run}" = build ] && exit 0
shift || true
status=0
for t in ${@:-$TARGETS_ALL}; do run "$t" || { echo "fuzz: $t FAILED (see $OUT/$t.log and $OUT/crashes/$t/)"; status=1; }; done
exit $status
