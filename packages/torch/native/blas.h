// The BLAS library libtorch runs its matrix products on, found at run time.
#pragma once

namespace cdt {

// The address of `symbol` in the BLAS libtorch was linked against (Debian's libtorch: OpenBLAS through
// libblas.so.3), or nullptr when libtorch carries its BLAS inside (PyTorch's wheels link MKL statically).
void* FindOpenBlasSymbol(const char* symbol);

}  // namespace cdt
