// ditto — the dropout kernels compiled by nvcc for the cuda device (source: dropout.cuh).
#include "kernels/cuda/dropout.cuh"
