// ditto — the matrix-multiply kernels compiled by the host compiler for the sim device (source:
// kernels/cuda/gemm.cuh, run on the SIMT simulator).
#include "kernels/cuda/gemm.cuh"
