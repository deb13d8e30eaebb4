#!/usr/bin/env bash
# Hardening of `ditto train` and `ditto ckpt` (issue 9), as a careless user or a supervisor would
# drive them: signals (a closed pipe, two SIGINTs microseconds apart, SIGTERM, a Ctrl-C during the
# final evaluation), two runs sharing --out, an unwritable --out, flags that overflowed, a
# diverging run, resume warnings, stale files, FIFOs, input == output, terminal escapes in
# printed file data. Every process runs under `timeout`, so a hang fails its case.
#   hardening.sh <ditto executable> <scratch dir> [case...]
# Prints "ok <case>" per case; exits 1 at the first failure (with the output that failed).
set -u
EXE=$(realpath "$1")
WORK=$2
shift 2
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
SMALL=(--train-limit 512 --test-limit 256 --batch-size 16 --no-progress)
LONG=(--train-limit 512 --test-limit 256 --batch-size 16 --no-progress --steps 100000000)
SANITIZED=0
"$EXE" info | grep -Eq 'sanitizers +none' || SANITIZED=1

fail() {
  echo "FAILED: $*"
  for f in "${LOGS[@]:-}"; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
  exit 1
}
# expect <status> <regex> <log> -- cmd...: runs cmd (timeout 120 s), output to <log>.
expect() {
  local want=$1 re=$2 log=$3
  shift 4
  timeout -s KILL 120 "$@" >"$log" 2>&1
  local rc=$?
  LOGS=("$log")
  [ "$rc" = "$want" ] || fail "exit status $rc, expected $want: $*"
  grep -Eq -- "$re" "$log" || fail "output does not match '$re': $*"
}
# wait_for <regex> <log>: until the log of a background run matches (60 s at most).
wait_for() {
  for _ in $(seq 600); do
    grep -Eq -- "$1" "$2" 2>/dev/null && return 0
    sleep 0.1
  done
  LOGS=("$2")
  fail "timed out waiting for '$1' in $2"
}
verify() { expect 0 '^ok: ' verify.log -- "$EXE" ckpt verify "$1"; }

case_flags() {  # item 3 (CLI), 9, 15: range checks before narrowing, overflowing arithmetic
  expect 2 '--threads must be <= [0-9]+, got 5000000000' f1.log -- "$EXE" train --threads 5000000000
  expect 2 '--threads must be <= [0-9]+, got 4294967297' f2.log -- "$EXE" train --threads 4294967297
  expect 2 '--steps must be in \[1, 9007199254740992\], got 99999' f3.log -- \
    "$EXE" train --steps 99999999999999999999999
  # A 100,000-character argument is not echoed whole.
  expect 2 "expects an integer, got 'x9{19}\\.\\.\\.\\(100001 characters\\)'" f4.log -- \
    "$EXE" train --steps "x$(head -c 100000 /dev/zero | tr '\0' 9)"
  expect 2 'more than 2\^53 steps' f5.log -- "$EXE" train "${SMALL[@]}" --epochs 9007199254740992 --out f5
  expect 2 '--batch-size must be <= 9007199254740992' f6.log -- \
    "$EXE" train "${SMALL[@]}" --batch-size 9223372036854775807
  # The largest accepted batch is one batch of the whole (limited) training set, not a hang.
  expect 0 'fingerprint: ' f7.log -- "$EXE" train "${SMALL[@]}" --batch-size 9007199254740992 \
    --steps 2 --out f7
  expect 2 '--data needs a directory' f8.log -- "$EXE" train --data ""
}

case_pipe() {  # item 4: Ctrl-C through `| tee`: the reader is gone, ditto saves and says so
  # `true` exits at once: every write ditto makes goes to a closed pipe (SIGPIPE before the fix).
  timeout -s KILL 120 "$EXE" train "${SMALL[@]}" --steps 8 --interrupt-after 3 --out pipe 2>&1 | true
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 130 ] || fail "exit status $rc through a closed pipe, expected 130"
  verify pipe/interrupted.ditto
  # A real SIGINT to both ends of `ditto | tee`, as a terminal's Ctrl-C sends it to the group.
  mkfifo pipe2.fifo
  tee pipe2.log <pipe2.fifo >/dev/null &
  local tee_pid=$!
  timeout -s KILL 120 "$EXE" train "${LONG[@]}" --out pipe2 >pipe2.fifo 2>&1 &
  local pid=$!
  wait_for 'training FashionCnn' pipe2.log
  kill -TERM $tee_pid  # (a background job ignores SIGINT in a script)
  wait $tee_pid
  kill -INT $pid  # timeout(1) forwards it to ditto: to the pid, then to the group
  wait $pid
  rc=$?
  LOGS=(pipe2.log)
  [ "$rc" = 130 ] || fail "exit status $rc after its tee died, expected 130"
  verify pipe2/interrupted.ditto
}

case_signals() {  # item 5: two SIGINTs microseconds apart; SIGTERM like SIGINT
  for i in 1 2 3; do
    timeout -s KILL 120 "$EXE" train "${LONG[@]}" --out sig$i >sig$i.log 2>&1 &
    local pid=$!
    wait_for 'training FashionCnn' sig$i.log
    kill -INT $pid; kill -INT $pid; kill -TERM $pid
    wait $pid
    local rc=$?
    LOGS=(sig$i.log)
    # The first signal to arrive decides the status; timeout(1) relays them concurrently, so
    # either may come first. What matters: the state was saved and the hint printed.
    [ "$rc" = 130 ] || [ "$rc" = 143 ] ||
      fail "exit status $rc after SIGINT SIGINT SIGTERM, expected 130 or 143"
    grep -q "resume with: ditto train --resume sig$i/interrupted.ditto" sig$i.log || fail "no resume hint"
    verify sig$i/interrupted.ditto
  done
  timeout -s KILL 120 "$EXE" train "${LONG[@]}" --out term >term.log 2>&1 &
  local pid=$!
  wait_for 'training FashionCnn' term.log
  kill -TERM $pid
  wait $pid
  local rc=$?
  LOGS=(term.log)
  [ "$rc" = 143 ] || fail "exit status $rc after SIGTERM, expected 143"
  verify term/interrupted.ditto
}

case_lock() {  # item 6: a second live run on the same --out is refused; leftovers are reported
  timeout -s KILL 120 "$EXE" train "${LONG[@]}" --checkpoint-every 2 --out shared >lock1.log 2>&1 &
  local pid=$!
  wait_for 'training FashionCnn' lock1.log
  expect 1 "in use by another .ditto train. \\(pid [0-9]+\\)" lock2.log -- \
    "$EXE" train "${SMALL[@]}" --steps 4 --out shared
  kill -INT $pid
  wait $pid
  [ -f shared/interrupted.ditto ] || fail "the first run's checkpoint is missing"
  # The directory now holds the first run's files: a new run says so.
  expect 0 'warning: --out shared already holds [0-9]+ checkpoints of an earlier run' lock3.log -- \
    "$EXE" train "${SMALL[@]}" --steps 2 --out shared
}

case_out_dir() {  # item 8: an unusable --out is found before training; results survive a failed save
  echo x >afile
  expect 1 "cannot create the --out directory 'afile/sub'" od1.log -- \
    "$EXE" train "${SMALL[@]}" --steps 2 --out afile/sub
  grep -q 'training FashionCnn' od1.log && fail "trained before checking --out"
  # A file-size limit below the final checkpoint with Adam state (~381 kB; the state at step 0
  # is only ~127 kB): the test write, as large as the final checkpoint, fails up front.
  expect 1 "cannot hold a checkpoint" od2.log -- bash -c \
    "trap '' XFSZ; ulimit -f 250; exec '$EXE' train ${SMALL[*]} --steps 2 --out small"
  grep -q 'training FashionCnn' od2.log && fail "trained although --out cannot hold a checkpoint"
  # The final save fails anyway (here: a directory where last.ditto should go): the results are
  # printed, with the reason, and the exit status is 1.
  mkdir -p mid/last.ditto
  expect 1 "could not write mid/last.ditto: .*is a directory" od3.log -- \
    "$EXE" train "${SMALL[@]}" --steps 2 --out mid
  grep -q 'test accuracy: ' od3.log || fail "no accuracy after a failed final save"
  grep -Eq 'fingerprint: [0-9a-f]{16}' od3.log || fail "no fingerprint after a failed final save"
}

case_nan() {  # item 13: a diverging run stops loudly
  expect 1 'the loss is (nan|inf|-nan) at step [0-9]+ .*diverged' nan.log -- \
    "$EXE" train "${SMALL[@]}" --steps 20 --lr 1e308 --optimizer sgd --out nan
  grep -q 'fingerprint:' nan.log && fail "a diverged run printed a fingerprint"
  true
}

case_resume() {  # item 13 (resume warnings), 17 (stale interrupted.ditto, Ctrl-C during eval)
  expect 0 'fingerprint: ' r1.log -- "$EXE" train "${SMALL[@]}" --steps 4 --out r
  expect 0 'warning: resuming with mode = fast but r/last.ditto was trained with deterministic' \
    r2.log -- "$EXE" train "${SMALL[@]}" --steps 6 --mode fast --resume r/last.ditto --out r2
  expect 0 'warning: r/last.ditto is at step 4, beyond the requested total of 2' r3.log -- \
    "$EXE" train "${SMALL[@]}" --steps 2 --resume r/last.ditto --out r3
  # Interrupted, then resumed to the end in the same --out: the stale resume point goes.
  expect 130 'interrupted at step 2' r4.log -- "$EXE" train "${SMALL[@]}" --steps 4 \
    --interrupt-after 2 --out ri
  expect 0 'removed ri/interrupted.ditto \(the interrupted run has finished\)' r5.log -- \
    "$EXE" train "${SMALL[@]}" --steps 4 --resume ri/interrupted.ditto --out ri
  [ -e ri/interrupted.ditto ] && fail "ri/interrupted.ditto is still there"
  # A signal after the last step lands in the final evaluation: not swallowed.
  expect 130 'interrupted during the final evaluation \(training is complete\) at step 3' r6.log -- \
    "$EXE" train "${SMALL[@]}" --steps 3 --interrupt-after 3 --out re
  verify re/interrupted.ditto
  # A temporary left by a killed writer (a pid that no longer exists) is cleaned up.
  bash -c 'exit 0' &
  local dead=$!
  wait $dead
  echo junk >"r/last.ditto.tmp.$dead.0"
  expect 0 "removed r/last.ditto.tmp.$dead.0 \\(a temporary file left by a killed run\\)" r7.log -- \
    "$EXE" train "${SMALL[@]}" --steps 2 --out r
}

case_ckpt() {  # items 7, 10, 15, 16
  expect 0 'fingerprint: ' c0.log -- "$EXE" train "${SMALL[@]}" --steps 2 --out c
  expect 0 '^usage: ditto ckpt verify FILE' c1.log -- "$EXE" ckpt verify --help
  expect 2 "unknown flag '-x'" c2.log -- "$EXE" ckpt inspect -x
  cp c/last.ditto c/copy.ditto
  expect 2 "is the input file" c3.log -- "$EXE" ckpt export-safetensors c/copy.ditto c/copy.ditto
  expect 2 "is the input file" c4.log -- "$EXE" ckpt strip c/copy.ditto ./c/../c/copy.ditto --optimizer
  verify c/copy.ditto
  mkfifo c/fifo
  expect 1 'not a regular file' c5.log -- "$EXE" ckpt verify c/fifo
  expect 1 'not a regular file' c6.log -- "$EXE" train "${SMALL[@]}" --steps 2 --resume c/fifo --out c6
  expect 1 'not a regular file' c7.log -- "$EXE" ckpt import-safetensors c/fifo c/x.ditto
  expect 1 'not a regular file' c8.log -- "$EXE" ckpt export-safetensors c/last.ditto c/fifo
  [ -p c/fifo ] || fail "the FIFO was replaced"
  chmod 600 c/copy.ditto
  expect 0 'without optimizer' c9.log -- "$EXE" ckpt strip c/last.ditto c/copy.ditto --optimizer
  [ "$(stat -c %a c/copy.ditto)" = 600 ] || fail "strip did not keep mode 0600"
  # A safetensors file whose names and metadata carry terminal escapes (JSON \u001b, \u0007).
  local header='{"__metadata__":{"note\u001b[2J":"\u001b]0;pwned\u0007red"},"w\u001b[31m":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}'
  local len=${#header}
  local pad=$(( (8 - len % 8) % 8 ))
  header="$header$(printf '%*s' $pad '')"
  len=${#header}
  { printf "$(printf '\\x%02x' $((len & 255)) $(((len >> 8) & 255)) 0 0 0 0 0 0)"; printf '%s' "$header"; printf 'A'; } >c/esc.safetensors
  expect 0 'wrote c/esc.ditto' c10.log -- "$EXE" ckpt import-safetensors c/esc.safetensors c/esc.ditto
  expect 0 'w\\x1b\[31m' c11.log -- "$EXE" ckpt inspect c/esc.ditto
  grep -q $'\x1b' c11.log && fail "inspect printed a raw ESC byte"
  grep -q $'\a' c11.log && fail "inspect printed a raw BEL byte"
  true
}

case_idx() {  # item 11: --train-limit applies while decoding a .gz declaring 10^6 images
  [ "$SANITIZED" = 1 ] && { echo "(idx: skipped under sanitizers: ulimit -v breaks ASan)"; return 0; }
  mkdir -p bomb
  { printf '\x00\x00\x08\x03\x00\x0f\x42\x40\x00\x00\x00\x1c\x00\x00\x00\x1c'; head -c 784000000 /dev/zero; } \
    | gzip -1 >bomb/train-images-idx3-ubyte.gz
  { printf '\x00\x00\x08\x01\x00\x0f\x42\x40'; head -c 1000000 /dev/zero; } | gzip -1 >bomb/train-labels-idx1-ubyte.gz
  ln -s /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz bomb/
  ln -s /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz bomb/
  expect 0 '\(64 train, 100 test images\)' idx.log -- bash -c \
    "ulimit -v 1500000; exec '$EXE' train --data bomb --train-limit 64 --test-limit 100 --batch-size 16 --steps 2 --no-progress --out idx"
}

CASES=("$@")
[ ${#CASES[@]} -eq 0 ] && CASES=(flags pipe signals lock out_dir nan resume ckpt idx)
for c in "${CASES[@]}"; do
  LOGS=()
  "case_$c"
  echo "ok $c"
done
