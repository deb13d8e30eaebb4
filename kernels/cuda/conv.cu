// ditto — the conv kernels compiled by nvcc for the cuda device (source: conv.cuh).
#include "kernels/cuda/conv.cuh"
