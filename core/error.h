// ditto — the one exception type, and the CHECK macro that carries file:line.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ditto {

/// Every error ditto reports is a ditto::Error. Library code never calls exit/abort.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace detail {
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void throw_error(const char* file, int line, const std::string& msg);
}  // namespace detail

}  // namespace ditto

/// DITTO_CHECK(cond, parts...): throws ditto::Error("parts... (file:line)") when cond is false.
/// The message parts are streamed, so shapes can be passed directly: `DITTO_CHECK(ok, "add: ", s)`.
#define DITTO_CHECK(cond, ...)                                                           \
  do {                                                                                   \
    if (!(cond)) ::ditto::detail::throw_error(__FILE__, __LINE__,                        \
                                              ::ditto::detail::concat(__VA_ARGS__));     \
  } while (0)

/// DITTO_FAIL(parts...): unconditionally throws ditto::Error with file:line.
#define DITTO_FAIL(...) \
  ::ditto::detail::throw_error(__FILE__, __LINE__, ::ditto::detail::concat(__VA_ARGS__))
