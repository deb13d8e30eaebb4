// ditto — a small, strict JSON reader and writer helpers (RFC 8259) for file headers such as
// safetensors'. Not a general-purpose JSON library: values are kept as a tiny DOM, numbers as
// their literal text (callers convert what they expect, e.g. with to_u64), and every input is
// bounds-checked so that untrusted bytes can only produce a ditto::Error.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ditto::io::json {

/// One parsed JSON value.
/// Invariants: for Kind::object, keys.size() == items.size() and the keys are unique (the parser
/// rejects duplicates), in file order; for Kind::array, keys is empty; `text` holds a string's
/// decoded UTF-8 value or a number's literal (already checked against the JSON number grammar).
struct Value {
  enum class Kind : std::uint8_t { null, boolean, number, string, array, object };
  Kind kind = Kind::null;
  bool boolean = false;
  std::string text;
  std::vector<std::string> keys;
  std::vector<Value> items;

  /// The member named `key` of an object, or nullptr.
  const Value* find(std::string_view key) const;
};

/// "null", "boolean", "number", "string", "array", "object".
const char* kind_name(Value::Kind k);

/// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s);

/// Parses exactly one JSON value from `text`; whitespace may surround it, nothing else may follow.
/// Strict: valid UTF-8 only, no duplicate object keys, no lone surrogate escapes, no control
/// characters in strings, no comments or trailing commas, nesting at most `max_depth` deep.
/// Errors are ditto::Error "<what>: invalid JSON at byte <offset>: <problem>".
Value parse(std::string_view text, const std::string& what, int max_depth = 64);

/// The value of a number literal that is a non-negative integer (no fraction, no exponent, no
/// minus sign) fitting in 64 bits. Throws ditto::Error "<what>: <why>" otherwise.
std::uint64_t to_u64(const Value& v, const std::string& what);

/// Appends `s` as a JSON string literal: quotes, `"` and `\` escaped, \b \f \n \r \t, other
/// control characters as \u00xx; everything else (UTF-8 included) as is — the same escaping as
/// serde_json (which the Python safetensors library uses). `s` must be valid UTF-8 (checked).
void append_string(std::string& out, std::string_view s, const std::string& what);

}  // namespace ditto::io::json
