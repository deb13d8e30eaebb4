// ditto — the random-fill kernel compiled by nvcc for the cuda device (source: random.cuh).
#include "kernels/cuda/random.cuh"
