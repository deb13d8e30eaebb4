// ditto — the elementwise kernels compiled by the host compiler for the sim device (source:
// kernels/cuda/elementwise.cuh, run on the SIMT simulator).
#include "kernels/cuda/elementwise.cuh"
