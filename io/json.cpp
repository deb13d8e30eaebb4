#include "io/json.h"

#include <set>

#include "core/error.h"

namespace ditto::io::json {

const Value* Value::find(std::string_view key) const {
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (keys[i] == key) return &items[i];
  return nullptr;
}

const char* kind_name(Value::Kind k) {
  switch (k) {
    case Value::Kind::null: return "null";
    case Value::Kind::boolean: return "boolean";
    case Value::Kind::number: return "number";
    case Value::Kind::string: return "string";
    case Value::Kind::array: return "array";
    case Value::Kind::object: return "object";
  }
  return "?";
}

bool is_valid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned lo = 0x80, hi = 0xBF;  // allowed range of the second byte (Unicode table 3-7)
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;        // no overlong 3-byte forms
      if (c == 0xED) hi = 0x9F;        // no UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;        // no overlong 4-byte forms
      if (c == 0xF4) hi = 0x8F;        // nothing above U+10FFFF
    } else {
      return false;                    // continuation byte, C0/C1 overlong lead, or F5..FF
    }
    if (n - i < len) return false;
    if (p[i + 1] < lo || p[i + 1] > hi) return false;
    for (std::size_t k = 2; k < len; ++k)
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return false;
    i += len;
  }
  return true;
}

namespace {

class Parser {
 public:
  Parser(std::string_view text, const std::string& what, int max_depth)
      : s_(text), what_(what), max_depth_(max_depth) {}

  Value parse_document() {
    if (!is_valid_utf8(s_)) fail_at(0, "not valid UTF-8");
    skip_ws();
    Value v = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("unexpected data after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail_at(std::size_t at, const std::string& why) const {
    DITTO_FAIL(what_, ": invalid JSON at byte ", at, ": ", why);
  }
  [[noreturn]] void fail(const std::string& why) const { fail_at(pos_, why); }

  bool at_end() const { return pos_ >= s_.size(); }
  char peek() const { return s_[pos_]; }

  void skip_ws() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }

  void expect(char c) {
    if (at_end()) fail(std::string("expected '") + c + "', found the end of the header");
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  void expect_word(std::string_view w) {
    if (s_.substr(pos_, w.size()) != w) fail("invalid literal");
    pos_ += w.size();
  }

  Value parse_value(int depth) {
    if (at_end()) fail("expected a value, found the end of the header");
    Value v;
    switch (peek()) {
      case '{': parse_object(v, depth + 1); break;
      case '[': parse_array(v, depth + 1); break;
      case '"':
        v.kind = Value::Kind::string;
        v.text = parse_string();
        break;
      case 't': expect_word("true"); v.kind = Value::Kind::boolean; v.boolean = true; break;
      case 'f': expect_word("false"); v.kind = Value::Kind::boolean; break;
      case 'n': expect_word("null"); break;
      default:
        if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
          v.kind = Value::Kind::number;
          v.text = parse_number();
        } else {
          fail("expected a value");
        }
    }
    return v;
  }

  void check_depth(int depth) const {
    if (depth > max_depth_) fail("nested deeper than " + std::to_string(max_depth_) + " levels");
  }

  void parse_object(Value& v, int depth) {
    check_depth(depth);
    v.kind = Value::Kind::object;
    ++pos_;  // '{'
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return;
    }
    std::set<std::string> seen_keys;
    for (;;) {
      skip_ws();
      if (at_end() || peek() != '"') fail("expected a string key");
      const std::size_t key_at = pos_;
      std::string key = parse_string();
      if (!seen_keys.insert(key).second) fail_at(key_at, "duplicate key \"" + key + "\"");
      skip_ws();
      expect(':');
      skip_ws();
      Value item = parse_value(depth);
      v.keys.push_back(std::move(key));
      v.items.push_back(std::move(item));
      skip_ws();
      if (at_end()) fail("expected ',' or '}', found the end of the header");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return;
      }
      fail("expected ',' or '}'");
    }
  }

  void parse_array(Value& v, int depth) {
    check_depth(depth);
    v.kind = Value::Kind::array;
    ++pos_;  // '['
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return;
    }
    for (;;) {
      skip_ws();
      v.items.push_back(parse_value(depth));
      skip_ws();
      if (at_end()) fail("expected ',' or ']', found the end of the header");
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return;
      }
      fail("expected ',' or ']'");
    }
  }

  // JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  — kept as text.
  std::string parse_number() {
    const std::size_t start = pos_;
    auto digit = [&] { return !at_end() && peek() >= '0' && peek() <= '9'; };
    if (peek() == '-') ++pos_;
    if (!digit()) fail("invalid number");
    if (peek() == '0') {
      ++pos_;
      if (digit()) fail("invalid number (leading zero)");
    } else {
      while (digit()) ++pos_;
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (!digit()) fail("invalid number (no digit after '.')");
      while (digit()) ++pos_;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (!digit()) fail("invalid number (no digit in the exponent)");
      while (digit()) ++pos_;
    }
    return std::string(s_.substr(start, pos_ - start));
  }

  unsigned parse_hex4() {
    if (s_.size() - pos_ < 4) fail("truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[pos_ + k];
      unsigned d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else fail("invalid hex digit in \\u escape");
      v = v * 16 + d;
    }
    pos_ += 4;
    return v;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    for (;;) {
      if (at_end()) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += static_cast<char>(c);  // UTF-8 was validated for the whole text up front
        ++pos_;
        continue;
      }
      ++pos_;
      if (at_end()) fail("unterminated escape");
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone trailing surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s_.substr(pos_, 2) != "\\u") fail("lone leading surrogate in \\u escape");
            pos_ += 2;
            const unsigned lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("invalid surrogate pair in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: fail("invalid escape character");
      }
    }
  }

  std::string_view s_;
  const std::string& what_;
  int max_depth_;
  std::size_t pos_ = 0;
};

}  // namespace

Value parse(std::string_view text, const std::string& what, int max_depth) {
  return Parser(text, what, max_depth).parse_document();
}

std::uint64_t to_u64(const Value& v, const std::string& what) {
  DITTO_CHECK(v.kind == Value::Kind::number, what, ": expected a non-negative integer, found a ",
              kind_name(v.kind));
  const std::string& t_full = v.text;
  const std::string t = ditto::detail::abbreviate(t_full);  // as echoed in messages
  DITTO_CHECK(t.empty() || t[0] != '-', what, ": negative value ", t);
  std::uint64_t r = 0;
  for (char c : t_full) {
    DITTO_CHECK(c >= '0' && c <= '9', what, ": expected an integer, found ", t);
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    DITTO_CHECK(r <= (UINT64_MAX - d) / 10, what, ": value ", t, " does not fit in 64 bits");
    r = r * 10 + d;
  }
  DITTO_CHECK(!t_full.empty(), what, ": empty number");
  return r;
}

void append_string(std::string& out, std::string_view s, const std::string& what) {
  DITTO_CHECK(is_valid_utf8(s), what, ": string is not valid UTF-8");
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

}  // namespace ditto::io::json
