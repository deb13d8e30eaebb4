// ditto — the pooling kernels compiled by nvcc for the cuda device (source: pool.cuh).
#include "kernels/cuda/pool.cuh"
