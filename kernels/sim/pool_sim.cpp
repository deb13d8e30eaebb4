// ditto — the pooling kernels compiled by the host compiler for the sim device (source:
// kernels/cuda/pool.cuh, run on the SIMT simulator).
#include "kernels/cuda/pool.cuh"
