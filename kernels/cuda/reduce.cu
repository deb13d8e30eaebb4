// ditto — the reduction kernels compiled by nvcc for the cuda device (source: reduce.cuh).
#include "kernels/cuda/reduce.cuh"
