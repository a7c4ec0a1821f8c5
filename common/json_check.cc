#include "common/json_check.h"

namespace genkit {

namespace {

class Checker {
 public:
  Checker(std::string_view text, int max_depth) : p_(text.data()), end_(text.data() + text.size()), depth_(max_depth) {}

  bool document() {
    ws();
    if (!value()) return false;
    ws();
    return p_ == end_;
  }

 private:
  bool value() {
    if (p_ == end_) return false;
    switch (*p_) {
      case '{': return nested('}', true);
      case '[': return nested(']', false);
      case '"': return string();
      case 't': return word("true");
      case 'f': return word("false");
      case 'n': return word("null");
      default: return number();
    }
  }

  // An object (members "key": value) or an array, after its opening bracket.
  bool nested(char close, bool members) {
    if (--depth_ < 0) return false;
    ++p_;
    ws();
    if (p_ != end_ && *p_ == close) return ++p_, ++depth_, true;
    for (;;) {
      if (members) {
        if (p_ == end_ || *p_ != '"' || !string()) return false;
        ws();
        if (p_ == end_ || *p_++ != ':') return false;
        ws();
      }
      if (!value()) return false;
      ws();
      if (p_ == end_) return false;
      char c = *p_++;
      if (c == close) return ++depth_, true;
      if (c != ',') return false;
      ws();
    }
  }

  bool string() {
    ++p_;  // "
    while (p_ != end_) {
      unsigned char c = static_cast<unsigned char>(*p_++);
      if (c == '"') return true;
      if (c < 0x20) return false;
      if (c != '\\') continue;
      if (p_ == end_) return false;
      char e = *p_++;
      if (e == 'u') {
        for (int i = 0; i < 4; ++i, ++p_) {
          if (p_ == end_ || !is_hex(*p_)) return false;
        }
      } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
        return false;
      }
    }
    return false;
  }

  bool number() {
    if (p_ != end_ && *p_ == '-') ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (!digits()) {
      return false;
    }
    if (p_ != end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
    }
    if (p_ != end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ != end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return false;
    }
    return true;
  }

  bool digits() {
    const char* start = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ != start;
  }

  bool word(std::string_view w) {
    if (static_cast<std::size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w) return false;
    p_ += w.size();
    return true;
  }

  void ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

  const char* p_;
  const char* end_;
  int depth_;
};

}  // namespace

bool is_json_text(std::string_view text, int max_depth) { return Checker(text, max_depth).document(); }

}  // namespace genkit
