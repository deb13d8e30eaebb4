// ditto — the matrix-multiply kernels compiled by nvcc for the cuda device (source: gemm.cuh).
#include "kernels/cuda/gemm.cuh"
