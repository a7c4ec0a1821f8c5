#include "common/json_check.h"

#include <cstdint>
#include <string>

namespace genkit {

namespace {

constexpr const char* kMalformed = "malformed JSON";
constexpr const char* kTooDeep = "too deep";
constexpr const char* kControl = "malformed JSON: an unescaped control character in a string";
constexpr const char* kBadUtf8 = "malformed JSON: invalid UTF-8 in a string";
constexpr const char* kSurrogate = "malformed JSON: an unpaired UTF-16 surrogate escape in a string";
constexpr const char* kNul = "a NUL character (\\u0000) in a string is not accepted";

class Checker {
 public:
  Checker(std::string_view text, int max_depth, bool strict)
      : start_(text.data()), p_(text.data()), end_(text.data() + text.size()), depth_(max_depth), strict_(strict) {}

  bool document() {
    ws();
    if (!value()) return false;
    ws();
    return p_ == end_ || fail(kMalformed);
  }

  // After document() failed: what, and at which byte.
  const char* why() const { return why_ ? why_ : kMalformed; }
  std::size_t offset() const { return static_cast<std::size_t>(at_ - start_); }

 private:
  bool fail(const char* why) {
    if (!why_) {
      why_ = why;
      at_ = p_ < end_ ? p_ : end_;
    }
    return false;
  }

  bool value() {
    if (p_ == end_) return fail(kMalformed);
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
    if (--depth_ < 0) return fail(kTooDeep);
    ++p_;
    ws();
    if (p_ != end_ && *p_ == close) return ++p_, ++depth_, true;
    for (;;) {
      if (members) {
        if (p_ == end_ || *p_ != '"') return fail(kMalformed);
        if (!string()) return false;
        ws();
        if (p_ == end_ || *p_ != ':') return fail(kMalformed);
        ++p_;
        ws();
      }
      if (!value()) return false;
      ws();
      if (p_ == end_) return fail(kMalformed);
      char c = *p_;
      if (c == close) return ++p_, ++depth_, true;
      if (c != ',') return fail(kMalformed);
      ++p_;
      ws();
    }
  }

  bool string() {
    ++p_;  // "
    while (p_ != end_) {
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') return ++p_, true;
      if (c < 0x20) return fail(kControl);
      if (c >= 0x80 && strict_) {
        if (!utf8_sequence()) return fail(kBadUtf8);
        continue;
      }
      ++p_;
      if (c == '\\' && !escape()) return false;
    }
    return fail(kMalformed);
  }

  // After a backslash.
  bool escape() {
    if (p_ == end_) return fail(kMalformed);
    char e = *p_;
    if (e != 'u') {
      if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' && e != 't') {
        return fail(kMalformed);
      }
      return ++p_, true;
    }
    const char* at = p_ - 1;  // the backslash, for the error
    uint32_t unit = 0;
    if (!hex4(&unit)) return false;
    if (unit == 0) return !strict_ || fail_at(at, kNul);
    // Unpaired surrogates fail in both forms: the parser refuses them, and
    // text passed on unparsed must be what the parser would have taken
    // (found by tests/fuzz/fuzz_json).
    if (unit >= 0xDC00 && unit <= 0xDFFF) return fail_at(at, kSurrogate);
    if (unit < 0xD800 || unit > 0xDBFF) return true;
    // A high surrogate: its low half must follow.
    uint32_t low = 0;
    if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return fail_at(at, kSurrogate);
    p_ += 1;
    if (!hex4(&low)) return false;
    return (low >= 0xDC00 && low <= 0xDFFF) || fail_at(at, kSurrogate);
  }

  // "uXXXX" (p_ at the u).
  bool hex4(uint32_t* unit) {
    ++p_;
    for (int i = 0; i < 4; ++i, ++p_) {
      if (p_ == end_ || !is_hex(*p_)) return fail(kMalformed);
      *unit = *unit * 16 + hex_value(*p_);
    }
    return true;
  }

  bool fail_at(const char* at, const char* why) {
    p_ = at;
    return fail(why);
  }

  // One multi-byte UTF-8 character (no overlong form, no surrogate, at most
  // U+10FFFF); p_ moves past it on success.
  bool utf8_sequence() {
    auto lead = static_cast<unsigned char>(*p_);
    int extra = (lead & 0xE0) == 0xC0 ? 1 : (lead & 0xF0) == 0xE0 ? 2 : (lead & 0xF8) == 0xF0 ? 3 : 0;
    if (extra == 0 || end_ - p_ <= extra) return false;
    uint32_t cp = lead & (0x3F >> extra);
    for (int k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(p_[k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p_ += extra + 1;
    return true;
  }

  bool number() {
    if (p_ != end_ && *p_ == '-') ++p_;
    if (p_ == end_) return fail(kMalformed);
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
    return p_ != start || fail(kMalformed);
  }

  bool word(std::string_view w) {
    if (static_cast<std::size_t>(end_ - p_) < w.size() || std::string_view(p_, w.size()) != w) {
      return fail(kMalformed);
    }
    p_ += w.size();
    return true;
  }

  void ws() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }

  static bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
  static uint32_t hex_value(char c) {
    return c <= '9' ? static_cast<uint32_t>(c - '0') : static_cast<uint32_t>((c | 0x20) - 'a' + 10);
  }

  const char* start_;
  const char* p_;
  const char* end_;
  int depth_;
  bool strict_;
  const char* why_ = nullptr;
  const char* at_ = nullptr;
};

}  // namespace

bool is_json_text(std::string_view text, int max_depth) { return Checker(text, max_depth, false).document(); }

Status check_json_input(std::string_view text, int max_depth) {
  Checker checker(text, max_depth, true);
  if (checker.document()) return Status::ok();
  std::string at = std::to_string(checker.offset());
  if (checker.why() == kTooDeep) {
    return invalid_argument("JSON nested deeper than " + std::to_string(max_depth) + " levels at byte " + at);
  }
  if (checker.why() == kMalformed) return invalid_argument("malformed JSON near byte " + at);
  return invalid_argument(std::string(checker.why()) + " at byte " + at);
}

Result<Json> parse_json_input(std::string_view text, int max_depth) {
  Status checked = check_json_input(text, max_depth);
  if (!checked.is_ok()) return checked;
  return Json::parse(text);
}

}  // namespace genkit
