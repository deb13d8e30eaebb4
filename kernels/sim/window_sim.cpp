// ditto — the window kernels (im2col / col2im) compiled by the host compiler for the sim device (source:
// kernels/cuda/window.cuh, run on the SIMT simulator).
#include "kernels/cuda/window.cuh"
