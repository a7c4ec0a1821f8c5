// .env parsing, compatible with the common subset of python-dotenv/dotenvx:
// KEY=VALUE, "export " prefix, # comments, '...' literal and "..." escaped
// values (both may span lines). No ${VAR} expansion: values are taken as written.
#include <string_view>

#include "common/config_internal.h"

namespace genkit::config_internal {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

bool valid_key(std::string_view k) {
  if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
  for (char c : k) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Walks the text line by line; quoted values may consume further lines.
class Parser {
 public:
  Parser(const std::string& text, const std::string& origin) : t_(text), origin_(origin) {}

  Result<std::map<std::string, std::string>> run() {
    std::map<std::string, std::string> out;
    while (pos_ < t_.size()) {
      line_start_no_ = ++line_no_;
      skip_blanks();
      if (at_line_end() || t_[pos_] == '#') {
        skip_to_next_line();
        continue;
      }
      if (t_.compare(pos_, 7, "export ") == 0 || t_.compare(pos_, 7, "export\t") == 0) {
        pos_ += 7;
        skip_blanks();
      }
      size_t key_start = pos_;
      while (pos_ < t_.size() && t_[pos_] != '=' && t_[pos_] != '\n' && !is_space(t_[pos_])) ++pos_;
      std::string key = t_.substr(key_start, pos_ - key_start);
      skip_blanks();
      if (pos_ >= t_.size() || t_[pos_] != '=') return error("expected KEY=VALUE");
      if (!valid_key(key)) return error("invalid name \"" + key + "\"");
      ++pos_;
      skip_blanks();
      std::string value;
      Status s = (pos_ < t_.size() && (t_[pos_] == '"' || t_[pos_] == '\'')) ? quoted(&value) : unquoted(&value);
      if (!s.is_ok()) return s;
      out[key] = std::move(value);
    }
    return out;
  }

 private:
  bool at_line_end() const { return pos_ >= t_.size() || t_[pos_] == '\n'; }
  void skip_blanks() {
    while (pos_ < t_.size() && is_space(t_[pos_])) ++pos_;
  }
  void skip_to_next_line() {
    while (pos_ < t_.size() && t_[pos_++] != '\n') {
    }
  }

  Status error(const std::string& why) const {
    std::string where = origin_.empty() ? "line " + std::to_string(line_start_no_)
                                        : origin_ + ":" + std::to_string(line_start_no_);
    return invalid_argument(where + ": " + why);
  }

  Status unquoted(std::string* out) {
    size_t start = pos_;
    while (!at_line_end()) {
      // " #" starts a comment (pos_ > 0: "=" precedes); a "#" inside a word (URL fragment, password) does not.
      if (t_[pos_] == '#' && is_space(t_[pos_ - 1])) break;
      ++pos_;
    }
    size_t end = pos_;
    while (end > start && is_space(t_[end - 1])) --end;
    *out = t_.substr(start, end - start);
    skip_to_next_line();
    return Status::ok();
  }

  Status quoted(std::string* out) {
    char quote = t_[pos_++];
    for (;;) {
      if (pos_ >= t_.size()) return error(std::string("unterminated ") + quote + " quote");
      char c = t_[pos_++];
      if (c == quote) break;
      if (c == '\n') ++line_no_;
      if (c == '\\' && quote == '"' && pos_ < t_.size()) {
        char e = t_[pos_++];
        switch (e) {
          case 'n': c = '\n'; break;
          case 't': c = '\t'; break;
          case 'r': c = '\r'; break;
          case '"': c = '"'; break;
          case '\\': c = '\\'; break;
          default:  // unknown escapes stay as written
            out->push_back('\\');
            c = e;
            if (e == '\n') ++line_no_;
        }
      }
      out->push_back(c);
    }
    skip_blanks();
    if (!at_line_end() && t_[pos_] != '#') return error("unexpected text after closing quote");
    skip_to_next_line();
    return Status::ok();
  }

  const std::string& t_;
  const std::string& origin_;
  size_t pos_ = 0;
  int line_no_ = 0;
  int line_start_no_ = 0;  // the line a KEY=VALUE entry started on, for errors
};

}  // namespace

Result<std::map<std::string, std::string>> parse_dotenv_named(const std::string& text,
                                                              const std::string& origin) {
  return Parser(text, origin).run();
}

}  // namespace genkit::config_internal

namespace genkit {

Result<std::map<std::string, std::string>> parse_dotenv(const std::string& text) {
  return config_internal::parse_dotenv_named(text, "");
}

}  // namespace genkit
