// ditto — marks functions shared by host kernels and CUDA kernels.
#pragma once

// DITTO_HD: `__host__ __device__` under nvcc (and under the sim shim, which defines both
// keywords away); nothing for plain host compilation of the CPU kernels.
#if defined(__CUDACC__) || defined(DITTO_SIM)
#define DITTO_HD __host__ __device__
#else
#define DITTO_HD
#endif
