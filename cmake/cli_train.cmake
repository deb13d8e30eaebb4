# Multi-command tests of `ditto train` and `ditto ckpt` (registered in test/CMakeLists.txt, label
# "cli"). Each scenario runs several processes and compares the fingerprints they print.
#   cmake -D EXE=<build/ditto> -D WORK=<scratch dir> -D SCENARIO=<name> [-D OPTIMIZER=sgd|adam]
#         [-D FLIP=<flip_byte helper>] [-D TIMEOUT_PROGRAM=<timeout>] -P cli_train.cmake
# Scenarios:
#   resume      8 steps straight == 4 steps (checkpoint at 4) + a fresh process resuming to 8
#   strip       the same resume from a checkpoint without optimizer (or generator) state differs
#   interrupt   --interrupt-after 3 (SIGINT) exits 130 with a resume hint; running the hint's
#               command gives the straight run's fingerprint
#   sigint      a real SIGINT from outside (timeout -s INT) -> 130 and a checkpoint that verifies
#   threads     --threads 1 == --threads 2
#   sim         --device sim == --device cpu (tiny sizes: the simulator is slow)
#   repeat      the same run twice prints the same fingerprint (and a different seed differs)
#   profile     --profile (with checkpoints, which it pauses around) prints the op table after
#               the summary and the same fingerprint as the run without it
#   ckpt        inspect / verify (also of corrupted copies) / diff / export / import / strip usage
cmake_minimum_required(VERSION 3.25)

if(NOT OPTIMIZER)
  set(OPTIMIZER adam)
endif()
# Small sizes: 32 batches of 16 per epoch, a 256-image test set.
set(SMALL --train-limit 512 --test-limit 256 --batch-size 16 --no-progress --augment
    --optimizer ${OPTIMIZER})

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

# run(<out var> <expected rc> args...): runs ditto, checks the exit status, returns the output.
function(run outvar expect_rc)
  execute_process(COMMAND "${EXE}" ${ARGN} WORKING_DIRECTORY "${WORK}"
    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  string(JOIN " " shown ${ARGN})
  message("$ ditto ${shown}\n${out}${err}")
  if(NOT "${rc}" STREQUAL "${expect_rc}")
    message(FATAL_ERROR "exit status ${rc}, expected ${expect_rc}")
  endif()
  set(${outvar} "${out}${err}" PARENT_SCOPE)
endfunction()

# fingerprint(<out var> <output>): the 16 hex digits of the "fingerprint: " line.
function(fingerprint outvar text)
  if(NOT text MATCHES "fingerprint: ([0-9a-f]+)\n")
    message(FATAL_ERROR "no 'fingerprint: <16 hex>' line in the output")
  endif()
  string(LENGTH "${CMAKE_MATCH_1}" n)
  if(NOT n EQUAL 16)
    message(FATAL_ERROR "fingerprint '${CMAKE_MATCH_1}' is not 16 hex digits")
  endif()
  set(${outvar} "${CMAKE_MATCH_1}" PARENT_SCOPE)
endfunction()

function(expect_match text regex)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "output does not match '${regex}'")
  endif()
endfunction()

function(expect_equal what a b)
  if(NOT "${a}" STREQUAL "${b}")
    message(FATAL_ERROR "${what}: '${a}' != '${b}'")
  endif()
  message("${what}: both ${a}")
endfunction()

function(expect_differ what a b)
  if("${a}" STREQUAL "${b}")
    message(FATAL_ERROR "${what}: both '${a}', expected them to differ")
  endif()
  message("${what}: ${a} != ${b}, as expected")
endfunction()

# straight(<fp var> <steps> [extra args]): an uninterrupted run into WORK/straight.
function(straight outvar steps)
  run(out 0 train ${SMALL} --steps ${steps} --out straight ${ARGN})
  fingerprint(fp "${out}")
  set(${outvar} ${fp} PARENT_SCOPE)
endfunction()

if(SCENARIO STREQUAL "resume" OR SCENARIO STREQUAL "strip")
  straight(fp_straight 8)
  run(out 0 train ${SMALL} --steps 4 --checkpoint-every 4 --out part)
  fingerprint(fp_4 "${out}")
  expect_differ("step 4 vs step 8 (training moved the weights)" ${fp_4} ${fp_straight})
  if(NOT EXISTS "${WORK}/part/step-4.ditto")
    message(FATAL_ERROR "--checkpoint-every 4 wrote no part/step-4.ditto")
  endif()
  if(SCENARIO STREQUAL "resume")
    run(out 0 train ${SMALL} --steps 8 --resume part/step-4.ditto --out resumed)
    expect_match("${out}" "resumed from part/step-4.ditto at step 4\n")
    fingerprint(fp_resumed "${out}")
    expect_equal("straight vs resumed (${OPTIMIZER})" ${fp_straight} ${fp_resumed})
    # The final checkpoints hold the same tensors and state bit for bit.
    run(out 0 ckpt diff straight/last.ditto resumed/last.ditto)
    expect_match("${out}" "identical")
  else()
    # Without a part of the state, the resumed run is a different run.
    foreach(part IN ITEMS optimizer generators)
      run(out 0 ckpt strip part/step-4.ditto part/no-${part}.ditto --${part})
      run(out 0 train ${SMALL} --steps 8 --resume part/no-${part}.ditto --out stripped)
      string(REGEX REPLACE "s$" "" singular "${part}")
      expect_match("${out}" "no ${singular} state")
      fingerprint(fp_stripped "${out}")
      expect_differ("straight vs resumed without ${part} state" ${fp_straight} ${fp_stripped})
    endforeach()
  endif()

elseif(SCENARIO STREQUAL "interrupt")
  straight(fp_straight 8)
  run(out 130 train ${SMALL} --steps 8 --interrupt-after 3 --out stopped)
  expect_match("${out}" "interrupted at step 3; resume with: ditto train --resume ")
  if(NOT out MATCHES "resume with: ditto ([^\n]*)\n")
    message(FATAL_ERROR "no resume hint")
  endif()
  # Run exactly the command the hint prints.
  separate_arguments(hint UNIX_COMMAND "${CMAKE_MATCH_1}")
  run(out 0 ${hint})
  expect_match("${out}" "resumed from stopped/interrupted.ditto at step 3\n")
  fingerprint(fp_resumed "${out}")
  expect_equal("straight vs interrupted at 3 and resumed" ${fp_straight} ${fp_resumed})

elseif(SCENARIO STREQUAL "sigint")
  # A run far too long to finish, stopped by a real SIGINT after 6 s (long enough for the process
  # to install its handler even on a loaded machine; a signal before that would kill it outright).
  execute_process(COMMAND "${TIMEOUT_PROGRAM}" --preserve-status -s INT 6
    "${EXE}" train ${SMALL} --steps 1000000 --out sig
    WORKING_DIRECTORY "${WORK}" RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("${out}${err}")
  if(NOT rc EQUAL 130)
    message(FATAL_ERROR "exit status ${rc}, expected 130")
  endif()
  expect_match("${out}" "interrupted at step [0-9]+; resume with: ditto train --resume sig/interrupted.ditto")
  run(out 0 ckpt verify sig/interrupted.ditto)
  expect_match("${out}" "^ok: ")

elseif(SCENARIO STREQUAL "threads")
  run(out 0 train ${SMALL} --steps 4 --threads 1 --out t1)
  fingerprint(fp1 "${out}")
  run(out 0 train ${SMALL} --steps 4 --threads 2 --out t2)
  fingerprint(fp2 "${out}")
  expect_equal("--threads 1 vs --threads 2" ${fp1} ${fp2})

elseif(SCENARIO STREQUAL "sim")
  set(TINY --train-limit 8 --test-limit 4 --batch-size 2 --steps 2 --no-progress --augment
      --optimizer ${OPTIMIZER})
  run(out 0 train ${TINY} --device cpu --out cpu)
  fingerprint(fp_cpu "${out}")
  run(out 0 train ${TINY} --device sim --out sim)
  fingerprint(fp_sim "${out}")
  expect_equal("--device cpu vs --device sim" ${fp_cpu} ${fp_sim})

elseif(SCENARIO STREQUAL "repeat")
  straight(fp_a 4)
  straight(fp_b 4)
  expect_equal("the same run twice" ${fp_a} ${fp_b})
  straight(fp_c 4 --seed 1)
  expect_differ("--seed 0 vs --seed 1" ${fp_a} ${fp_c})

elseif(SCENARIO STREQUAL "profile")
  run(out 0 train ${SMALL} --steps 4 --out plain)
  fingerprint(fp_plain "${out}")
  if(out MATCHES "profile of")
    message(FATAL_ERROR "a run without --profile printed a profile")
  endif()
  run(out 0 train ${SMALL} --steps 4 --checkpoint-every 2 --profile --out prof)
  fingerprint(fp_prof "${out}")
  expect_equal("--profile vs without" ${fp_plain} ${fp_prof})
  expect_match("${out}" "fingerprint: [0-9a-f]+\n\nprofile of 4 training steps")
  expect_match("${out}" "\nop +phase +mode +calls +total ms +self ms +self% +kernels +bytes\n")
  foreach(_row IN ITEMS "conv2d +forward +deterministic +4 " "conv2d +backward +deterministic +4 "
                        "batch_norm +backward" "${OPTIMIZER}\\.step +optimizer +deterministic +4 "
                        "backward +backward +deterministic +4 " "\\(outside ops\\) " "\ntotal ")
    expect_match("${out}" "${_row}")
  endforeach()

elseif(SCENARIO STREQUAL "ckpt")
  run(out 0 train ${SMALL} --steps 4 --checkpoint-every 2 --out c)
  fingerprint(fp "${out}")
  # inspect: every record and every kind of state.
  run(out 0 ckpt inspect c/last.ditto)
  foreach(re "records \\([0-9]+\\)" "conv1\\.weight +f32 \\[16, ?1, ?3, ?3\\] +crc32c [0-9a-f]+"
      "bn1\\.num_batches_tracked +i64" "kind +adam" "exp_avg\\.0" "init +seed 0"
      "dropout +seed 1" "augment +seed 2" "epoch 0 +position 4" "shuffle seed 3"
      "global step +4" "mode +deterministic" "fingerprint +${fp} \\(matches"
      "optimizer +adam" "batch_size +16" "test_accuracy")
    expect_match("${out}" "${re}")
  endforeach()
  # verify: ok, then corrupted copies fail with exit status 1.
  run(out 0 ckpt verify c/last.ditto)
  expect_match("${out}" "^ok: c/last.ditto .*fingerprint ${fp}")
  file(SIZE "${WORK}/c/last.ditto" size)
  math(EXPR middle "${size} / 2")
  foreach(where IN ITEMS 12 ${middle})
    file(COPY_FILE "${WORK}/c/last.ditto" "${WORK}/c/bad-${where}.ditto")
    execute_process(COMMAND "${FLIP}" "${WORK}/c/bad-${where}.ditto" ${where}
      COMMAND_ERROR_IS_FATAL ANY)
    run(out 1 ckpt verify c/bad-${where}.ditto)
    expect_match("${out}" "FAILED")
  endforeach()
  run(out 1 ckpt verify c/no-such-file.ditto)
  # diff: identical with itself, different from an earlier step.
  run(out 0 ckpt diff c/last.ditto c/step-4.ditto)
  expect_match("${out}" "fc\\.weight +identical")
  run(out 1 ckpt diff c/step-2.ditto c/last.ditto)
  expect_match("${out}" "fc\\.weight +DIFFER +[0-9.e-]+ +[1-9][0-9]*")
  expect_match("${out}" "global step +DIFFER +2 vs 4")
  # safetensors: export, import, same weights (model-only diff and fingerprint).
  run(out 0 ckpt export-safetensors c/last.ditto c/model.safetensors)
  run(out 0 ckpt import-safetensors c/model.safetensors c/imported.ditto)
  expect_match("${out}" "fingerprint ${fp}")
  run(out 0 ckpt diff --model-only c/last.ditto c/imported.ditto)
  run(out 1 ckpt diff c/last.ditto c/imported.ditto)  # no optimizer/generator/loader state
  run(out 0 ckpt inspect c/imported.ditto)
  expect_match("${out}" "optimizer\n  \\(none\\)")
  # Resuming from the import restores the weights only: a fresh run of 2 steps from them.
  run(out 0 train ${SMALL} --steps 2 --resume c/imported.ditto --out fromimport)
  expect_match("${out}" "at step 0 \\(no optimizer state")
  # Usage errors exit 2.
  run(out 2 ckpt)
  run(out 2 ckpt frobnicate)
  run(out 2 ckpt diff c/last.ditto)
  run(out 2 ckpt strip c/last.ditto c/x.ditto)
  run(out 2 train --optimizer rmsprop)
  run(out 2 train --steps 0)
  run(out 2 train --no-such-flag)
  run(out 0 train --help)
  expect_match("${out}" "--checkpoint-every N")

else()
  message(FATAL_ERROR "unknown SCENARIO '${SCENARIO}'")
endif()
