// ditto — the random-fill kernel compiled by the host compiler for the sim device (source:
// kernels/cuda/random.cuh, run on the SIMT simulator).
#include "kernels/cuda/random.cuh"
