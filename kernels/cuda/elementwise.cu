// ditto — the elementwise kernels compiled by nvcc for the cuda device (source: elementwise.cuh).
#include "kernels/cuda/elementwise.cuh"
