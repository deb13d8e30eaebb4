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

/// A value from a file or the command line as echoed in a message: itself when at most 40
/// characters, else its first 20 and "...(N characters)" (a 100,000-digit number must not flood
/// the terminal).
inline std::string abbreviate(const std::string& v) {
  if (v.size() <= 40) return v;
  return v.substr(0, 20) + "...(" + std::to_string(v.size()) + " characters)";
}
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
