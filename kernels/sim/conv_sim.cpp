// ditto — the conv kernels compiled by the host compiler for the sim device (source:
// kernels/cuda/conv.cuh, run on the SIMT simulator).
#include "kernels/cuda/conv.cuh"
