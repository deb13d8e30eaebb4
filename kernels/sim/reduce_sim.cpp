// ditto — the reduction kernels compiled by the host compiler for the sim device (source:
// kernels/cuda/reduce.cuh, run on the SIMT simulator).
#include "kernels/cuda/reduce.cuh"
