#include "core/error.h"

#include <cstring>

namespace ditto::detail {

void throw_error(const char* file, int line, const std::string& msg) {
  // Keep only the path from the repository's top folders down, so messages do not leak the
  // build machine's directory layout.
  const char* shown = file;
  for (const char* top : {"core/", "kernels/", "nn/", "io/", "tools/"}) {
    if (const char* p = std::strstr(file, top)) {
      shown = p;
      break;
    }
  }
  throw Error(msg + " (" + shown + ":" + std::to_string(line) + ")");
}

}  // namespace ditto::detail
