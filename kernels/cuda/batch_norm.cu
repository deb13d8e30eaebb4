// ditto — the batch_norm kernels compiled by nvcc for the cuda device (source: batch_norm.cuh).
#include "kernels/cuda/batch_norm.cuh"
