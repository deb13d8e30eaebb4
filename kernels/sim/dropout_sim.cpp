// ditto — the dropout kernels compiled by the host compiler for the sim device (source:
// kernels/cuda/dropout.cuh, run on the SIMT simulator).
#include "kernels/cuda/dropout.cuh"
