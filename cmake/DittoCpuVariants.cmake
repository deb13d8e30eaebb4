# ditto — the CPU kernels compiled once per x86-64 level (v2, v3, v4).
#
# Each level's objects are compiled with -march=x86-64-v<N> and DITTO_CPU_VARIANT=<N>, which puts
# ditto's own code in the namespace ditto::kernels::cpu::v<N> (kernels/cpu/level.h). That alone
# does not keep the levels apart: the standard library's and Eigen's templates and ditto's
# shared inline helpers are instantiated in every level under the same names, and the linker
# keeps one copy of each — possibly the AVX-512 one, on a machine without AVX-512. So each
# level's objects are linked into one relocatable object (`ld -r`, section groups dissolved) in
# which every symbol outside ditto::kernels::cpu::v<N> is made local (`objcopy`): a level's
# code can then only call its own copies, and the rest of the library only sees the level's
# kernel tables. `ctest -R cpu_variant_symbols` checks the result.
function(ditto_add_cpu_variants out_var)
  # GNU ld (bfd) for `ld -r --force-group-allocation`: clang's lld has no such option, and
  # binutils is there wherever g++ is.
  find_program(DITTO_LD_BFD NAMES ld.bfd ld)
  find_program(DITTO_OBJCOPY NAMES objcopy llvm-objcopy)
  if(NOT DITTO_LD_BFD OR NOT DITTO_OBJCOPY)
    message(FATAL_ERROR "ditto's CPU kernel variants need GNU ld and objcopy (binutils)")
  endif()
  set(_objects "")
  foreach(_level 2 3 4)
    set(_t ditto_cpu_v${_level})
    add_library(${_t} OBJECT ${ARGN})
    target_compile_features(${_t} PRIVATE cxx_std_20)
    set_target_properties(${_t} PROPERTIES POSITION_INDEPENDENT_CODE ON)
    target_include_directories(${_t} PRIVATE ${PROJECT_SOURCE_DIR} ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(${_t} PRIVATE OpenMP::OpenMP_CXX Eigen3::Eigen)
    # A backend table that misses an entry must not compile (kernels/kernel_table.h).
    target_compile_options(${_t} PRIVATE
      "$<$<COMPILE_LANGUAGE:CXX>:${DITTO_HOST_FLAGS_NO_ARCH};-march=x86-64-v${_level};-Werror=missing-field-initializers>")
    # GCC gives static locals of inline functions (Eigen's cache sizes, libstdc++'s digit table)
    # STB_GNU_UNIQUE binding, which objcopy cannot make local: plain weak symbols instead.
    if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
      target_compile_options(${_t} PRIVATE -fno-gnu-unique)
    endif()
    target_compile_definitions(${_t} PRIVATE DITTO_CPU_VARIANT=${_level})
    set(_o ${CMAKE_CURRENT_BINARY_DIR}/ditto_cpu_v${_level}.o)
    add_custom_command(OUTPUT ${_o}
      COMMAND ${DITTO_LD_BFD} -r --force-group-allocation -o ${_o}.all $<TARGET_OBJECTS:${_t}>
      COMMAND ${DITTO_OBJCOPY} --wildcard "--keep-global-symbol=_ZN5ditto7kernels3cpu2v${_level}*"
              ${_o}.all ${_o}
      DEPENDS ${_t} $<TARGET_OBJECTS:${_t}>
      COMMAND_EXPAND_LISTS VERBATIM
      COMMENT "CPU kernels for x86-64-v${_level}: one object, only its own namespace global")
    set_source_files_properties(${_o} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)
    list(APPEND _objects ${_o})
  endforeach()
  set(${out_var} ${_objects} PARENT_SCOPE)
endfunction()
