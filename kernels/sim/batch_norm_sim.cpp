// ditto — the batch_norm kernels compiled by the host compiler for the sim device (source:
// kernels/cuda/batch_norm.cuh, run on the SIMT simulator).
#include "kernels/cuda/batch_norm.cuh"
