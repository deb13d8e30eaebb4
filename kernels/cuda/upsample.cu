// ditto — the upsample kernels compiled by nvcc for the cuda device (source: upsample.cuh).
#include "kernels/cuda/upsample.cuh"
