#include "kernels/kernel_table.h"

#include "core/cpu_isa.h"
#include "core/error.h"
#include "kernels/batch_norm.h"
#include "kernels/conv.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/index.h"
#include "kernels/pool.h"
#include "kernels/random.h"
#include "kernels/reduce.h"
#include "kernels/upsample.h"
#include "kernels/window.h"

#ifndef DITTO_CUDA_COMPILED
#define DITTO_CUDA_COMPILED 0
#endif

// The cuda tables exist only when nvcc compiled the kernels; otherwise their slot is null and a
// cuda device raises the "no kernels in this build" error (never a fallback to another device).
#if DITTO_CUDA_COMPILED
#define DITTO_CUDA_TABLE(table) &cuda::table
#else
#define DITTO_CUDA_TABLE(table) nullptr
#endif

namespace ditto::kernels {

const char* backend_name(Backend b) {
  switch (b) {
    case Backend::cpu_v2: return "cpu/v2";
    case Backend::cpu_v3: return "cpu/v3";
    case Backend::cpu_v4: return "cpu/v4";
    case Backend::sim: return "sim";
    case Backend::cuda: return "cuda";
  }
  return "unknown";
}

Backend backend_of(Device d) {
  switch (d.type) {
    case Device::Type::cpu:
      switch (get_cpu_isa()) {
        case CpuIsa::v2: return Backend::cpu_v2;
        case CpuIsa::v3: return Backend::cpu_v3;
        case CpuIsa::v4: return Backend::cpu_v4;
      }
      break;
    case Device::Type::sim: return Backend::sim;
    case Device::Type::cuda: return Backend::cuda;
  }
  DITTO_FAIL("kernels: unknown device");
}

void throw_no_kernels(Device d, const char* family) {
  DITTO_FAIL(family, " kernels: device ", device_name(d),
             " has no kernels in this build (CUDA not compiled)");
}

// One accessor per family: the five backends' tables in Backend order.
const ElementwiseKernels& elementwise_kernels(Device d) {
  static constexpr FamilyTables<ElementwiseKernels> t{
      {&cpu::v2::elementwise_table, &cpu::v3::elementwise_table, &cpu::v4::elementwise_table,
       &sim::elementwise_table, DITTO_CUDA_TABLE(elementwise_table)}};
  return pick(d, "elementwise", t);
}
const ReduceKernels& reduce_kernels(Device d) {
  static constexpr FamilyTables<ReduceKernels> t{{&cpu::v2::reduce_table, &cpu::v3::reduce_table,
                                                  &cpu::v4::reduce_table, &sim::reduce_table,
                                                  DITTO_CUDA_TABLE(reduce_table)}};
  return pick(d, "reduce", t);
}
const GemmKernels& gemm_kernels(Device d) {
  static constexpr FamilyTables<GemmKernels> t{{&cpu::v2::gemm_table, &cpu::v3::gemm_table,
                                                &cpu::v4::gemm_table, &sim::gemm_table,
                                                DITTO_CUDA_TABLE(gemm_table)}};
  return pick(d, "gemm", t);
}
const RandomKernels& random_kernels(Device d) {
  static constexpr FamilyTables<RandomKernels> t{{&cpu::v2::random_table, &cpu::v3::random_table,
                                                  &cpu::v4::random_table, &sim::random_table,
                                                  DITTO_CUDA_TABLE(random_table)}};
  return pick(d, "random", t);
}
const WindowKernels& window_kernels(Device d) {
  static constexpr FamilyTables<WindowKernels> t{{&cpu::v2::window_table, &cpu::v3::window_table,
                                                  &cpu::v4::window_table, &sim::window_table,
                                                  DITTO_CUDA_TABLE(window_table)}};
  return pick(d, "window", t);
}
const IndexKernels& index_kernels(Device d) {
  static constexpr FamilyTables<IndexKernels> t{{&cpu::v2::index_table, &cpu::v3::index_table,
                                                 &cpu::v4::index_table, &sim::index_table,
                                                 DITTO_CUDA_TABLE(index_table)}};
  return pick(d, "index", t);
}

const DropoutKernels& dropout_kernels(Device d) {
  static constexpr FamilyTables<DropoutKernels> t{{&cpu::v2::dropout_table, &cpu::v3::dropout_table,
                                                   &cpu::v4::dropout_table, &sim::dropout_table,
                                                   DITTO_CUDA_TABLE(dropout_table)}};
  return pick(d, "dropout", t);
}

const PoolKernels& pool_kernels(Device d) {
  static constexpr FamilyTables<PoolKernels> t{{&cpu::v2::pool_table, &cpu::v3::pool_table,
                                                &cpu::v4::pool_table, &sim::pool_table,
                                                DITTO_CUDA_TABLE(pool_table)}};
  return pick(d, "pool", t);
}

const ConvKernels& conv_kernels(Device d) {
  static constexpr FamilyTables<ConvKernels> t{{&cpu::v2::conv_table, &cpu::v3::conv_table,
                                                &cpu::v4::conv_table, &sim::conv_table,
                                                DITTO_CUDA_TABLE(conv_table)}};
  return pick(d, "conv", t);
}

const UpsampleKernels& upsample_kernels(Device d) {
  static constexpr FamilyTables<UpsampleKernels> t{
      {&cpu::v2::upsample_table, &cpu::v3::upsample_table, &cpu::v4::upsample_table,
       &sim::upsample_table, DITTO_CUDA_TABLE(upsample_table)}};
  return pick(d, "upsample", t);
}
const BatchNormKernels& batch_norm_kernels(Device d) {
  static constexpr FamilyTables<BatchNormKernels> t{
      {&cpu::v2::batch_norm_table, &cpu::v3::batch_norm_table, &cpu::v4::batch_norm_table,
       &sim::batch_norm_table, DITTO_CUDA_TABLE(batch_norm_table)}};
  return pick(d, "batch_norm", t);
}

}  // namespace ditto::kernels
