// Only the types and enums of the C BLAS interface; no link directive on purpose.
// Kernels/BLAS.swift opens libopenblas.so.0 with dlopen after choosing the CPU kernel.
#include <cblas.h>
