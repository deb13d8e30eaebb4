// ditto — the window kernels (im2col / col2im) compiled by nvcc for the cuda device (source: window.cuh).
#include "kernels/cuda/window.cuh"
