#include "common/prompt/yaml_to_json.h"

#include <yaml.h>

#include <charconv>
#include <cstring>
#include <string>
#include <unordered_set>

namespace genkit {
namespace {

// Front matter is hand-written configuration; anything deeper is hostile.
constexpr int kMaxDepth = 64;

Status error_at(const yaml_mark_t& mark, const std::string& problem) {
  return invalid_argument("line " + std::to_string(mark.line + 1) + ", column " +
                          std::to_string(mark.column + 1) + ": " + problem);
}

bool all_of(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}
bool is_dec(char c) { return c >= '0' && c <= '9'; }
bool is_oct(char c) { return c >= '0' && c <= '7'; }
bool is_hex(char c) { return is_dec(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// YAML 1.2 core float: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool looks_like_float(std::string_view s) {
  std::size_t i = 0;
  auto digits = [&] {
    std::size_t start = i;
    while (i < s.size() && is_dec(s[i])) ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  std::size_t int_digits = digits();
  std::size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    frac_digits = digits();
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return false;
  }
  return i == s.size();
}

// Resolves a plain (unquoted, untagged) scalar per the YAML 1.2 core schema.
Json resolve_plain(std::string_view s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return Json::null();
  if (s == "true" || s == "True" || s == "TRUE") return Json::boolean(true);
  if (s == "false" || s == "False" || s == "FALSE") return Json::boolean(false);
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o')) {
    bool hex = s[1] == 'x';
    std::string_view digits = s.substr(2);
    if (all_of(digits, hex ? is_hex : is_oct)) {
      double value = 0;
      for (char c : digits) {
        int d = is_dec(c) ? c - '0' : (c | 0x20) - 'a' + 10;
        value = value * (hex ? 16 : 8) + d;
      }
      return Json::number(value);
    }
    return Json::string(s);
  }
  if (looks_like_float(s)) {
    bool negative = s[0] == '-';
    std::string_view body = (s[0] == '-' || s[0] == '+') ? s.substr(1) : s;
    double value = 0;
    auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
    // Out-of-range literals (1e999) have no JSON form; keep the text.
    if (ec == std::errc() && ptr == body.data() + body.size()) {
      return Json::number(negative ? -value : value);
    }
  }
  return Json::string(s);
}

class Converter {
 public:
  explicit Converter(std::string_view yaml) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(yaml.data()),
                                 yaml.size());
  }
  ~Converter() {
    if (has_event_) yaml_event_delete(&event_);
    yaml_parser_delete(&parser_);
  }
  Converter(const Converter&) = delete;
  Converter& operator=(const Converter&) = delete;

  Result<Json> run() {
    if (Status s = next(); !s.is_ok()) return s;  // STREAM_START
    if (Status s = next(); !s.is_ok()) return s;
    if (event_.type == YAML_STREAM_END_EVENT) return Json::null();
    if (event_.type != YAML_DOCUMENT_START_EVENT) return error_at(event_.start_mark, "expected a document");
    if (Status s = next(); !s.is_ok()) return s;
    Result<Json> root = node(0);
    if (!root.ok()) return root;
    if (Status s = next(); !s.is_ok()) return s;  // DOCUMENT_END
    if (Status s = next(); !s.is_ok()) return s;
    if (event_.type != YAML_STREAM_END_EVENT) {
      return error_at(event_.start_mark, "only one YAML document is allowed");
    }
    return root;
  }

 private:
  Status next() {
    if (has_event_) {
      yaml_event_delete(&event_);
      has_event_ = false;
    }
    if (!yaml_parser_parse(&parser_, &event_)) return parser_error();
    has_event_ = true;
    return Status::ok();
  }

  Status parser_error() const {
    std::string problem = parser_.problem ? parser_.problem : "malformed YAML";
    if (parser_.error == YAML_READER_ERROR) {
      return invalid_argument("byte " + std::to_string(parser_.problem_offset) + ": " + problem);
    }
    if (parser_.context) problem += std::string(" (") + parser_.context + ")";
    return error_at(parser_.problem_mark, problem);
  }

  // Converts the node starting at the current event; leaves the current event
  // at the node's last event (scalar or *_END).
  Result<Json> node(int depth) {
    switch (event_.type) {
      case YAML_SCALAR_EVENT: return scalar();
      case YAML_ALIAS_EVENT: return error_at(event_.start_mark, "YAML aliases are not supported");
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT:
        if (depth >= kMaxDepth) {
          return error_at(event_.start_mark, "nesting deeper than " + std::to_string(kMaxDepth));
        }
        return event_.type == YAML_SEQUENCE_START_EVENT ? sequence(depth) : mapping(depth);
      default: return error_at(event_.start_mark, "unexpected YAML event");
    }
  }

  Json scalar() const {
    const auto& sc = event_.data.scalar;
    std::string_view text(reinterpret_cast<const char*>(sc.value), sc.length);
    const char* tag = reinterpret_cast<const char*>(sc.tag);
    if (tag && std::strcmp(tag, YAML_STR_TAG) == 0) return Json::string(text);
    if (sc.style != YAML_PLAIN_SCALAR_STYLE) return Json::string(text);
    return resolve_plain(text);
  }

  Result<Json> sequence(int depth) {
    Json out = Json::array();
    for (;;) {
      if (Status s = next(); !s.is_ok()) return s;
      if (event_.type == YAML_SEQUENCE_END_EVENT) return out;
      Result<Json> item = node(depth + 1);
      if (!item.ok()) return item;
      out.push(std::move(item).value());
    }
  }

  Result<Json> mapping(int depth) {
    Json out = Json::object();
    std::unordered_set<std::string> seen;
    for (;;) {
      if (Status s = next(); !s.is_ok()) return s;
      if (event_.type == YAML_MAPPING_END_EVENT) return out;
      if (event_.type != YAML_SCALAR_EVENT) {
        return error_at(event_.start_mark, "mapping keys must be scalars");
      }
      const auto& sc = event_.data.scalar;
      std::string key(reinterpret_cast<const char*>(sc.value), sc.length);
      yaml_mark_t key_mark = event_.start_mark;
      if (!seen.insert(key).second) return error_at(key_mark, "duplicate key '" + key + "'");
      if (Status s = next(); !s.is_ok()) return s;
      Result<Json> value = node(depth + 1);
      if (!value.ok()) return value;
      out.set(key, std::move(value).value());
    }
  }

  yaml_parser_t parser_;
  yaml_event_t event_;
  bool has_event_ = false;
};

}  // namespace

Result<Json> yaml_to_json(std::string_view yaml) {
  Converter converter(yaml);
  return converter.run();
}

}  // namespace genkit
