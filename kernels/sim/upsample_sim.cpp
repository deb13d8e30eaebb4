// ditto — the upsample kernels compiled by the host compiler for the sim device (source:
// kernels/cuda/upsample.cuh, run on the SIMT simulator).
#include "kernels/cuda/upsample.cuh"
