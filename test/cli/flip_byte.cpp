// Test helper for the `ditto ckpt verify` test: flip_byte FILE OFFSET inverts every bit of the
// byte at OFFSET in place (CMake scripts cannot write binary files).
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: flip_byte FILE OFFSET\n");
    return 2;
  }
  const long offset = std::strtol(argv[2], nullptr, 10);
  std::FILE* f = std::fopen(argv[1], "r+b");
  if (!f || std::fseek(f, offset, SEEK_SET) != 0) return 1;
  const int c = std::fgetc(f);
  if (c == EOF || std::fseek(f, offset, SEEK_SET) != 0) return 1;
  std::fputc(c ^ 0xFF, f);
  return std::fclose(f) == 0 ? 0 : 1;
}
