// The BLAS library is loaded as libtorch's dependency (locally, not in the global scope), so it is
// found by name with RTLD_NOLOAD, which never loads a second copy. libblas.so.3 comes first: it is
// the name libtorch binds sgemm_ through, so a product issued here runs the code libtorch's would.
#include "blas.h"

#include <dlfcn.h>

#include <initializer_list>

namespace cdt {

void* FindOpenBlasSymbol(const char* symbol) {
  if (void* f = dlsym(RTLD_DEFAULT, symbol)) return f;
  for (const char* name : {"libblas.so.3", "libopenblas.so.0", "libopenblas.so"}) {
    void* lib = dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
    if (lib == nullptr) continue;
    void* f = dlsym(lib, symbol);
    dlclose(lib);  // NOLOAD took a reference; the library stays loaded through libtorch's own
    if (f != nullptr) return f;
  }
  return nullptr;
}

}  // namespace cdt
