// ditto — the index kernels compiled by the host compiler for the sim device (source:
// kernels/cuda/index.cuh, run on the SIMT simulator).
#include "kernels/cuda/index.cuh"
