// ditto — the index kernels compiled by nvcc for the cuda device (source: index.cuh).
#include "kernels/cuda/index.cuh"
