// Parses the inside of one Handlebars tag: paths, literals, key=value
// arguments and block parameters.
#include <string>
#include <string_view>

#include "common/prompt/handlebars_ast.h"

namespace genkit::handlebars_internal {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

Status error(int line, const std::string& message) {
  return invalid_argument("line " + std::to_string(line) + ": " + message);
}

// Characters Handlebars does not allow in an identifier.
bool is_id_char(char c) {
  return !is_space(c) && std::string_view("!\"#%&'()*+,./;<=>@[\\]^`{|}~").find(c) == std::string_view::npos;
}

bool is_number(std::string_view w) {
  std::size_t i = w.starts_with("-") ? 1 : 0, digits = 0;
  while (i < w.size() && w[i] >= '0' && w[i] <= '9') ++i, ++digits;
  if (digits == 0) return false;
  if (i == w.size()) return true;
  if (w[i] != '.') return false;
  std::size_t frac = ++i;
  while (i < w.size() && w[i] >= '0' && w[i] <= '9') ++i;
  return i > frac && i == w.size();
}

// Splits "a.b/[c d]" into segments; brackets quote any characters but ']'.
Result<std::vector<std::string>> split_segments(std::string_view p, int line, std::string_view whole) {
  std::vector<std::string> out;
  while (!p.empty()) {
    std::string seg;
    if (p[0] == '[') {
      std::size_t close = p.find(']');
      if (close == std::string_view::npos) return error(line, "unclosed '[' in '" + std::string(whole) + "'");
      seg = std::string(p.substr(1, close - 1));
      p.remove_prefix(close + 1);
    } else {
      std::size_t k = 0;
      while (k < p.size() && p[k] != '.' && p[k] != '/') ++k;
      seg = std::string(p.substr(0, k));
      for (char c : seg) {
        if (!is_id_char(c)) return error(line, "invalid character in '" + std::string(whole) + "'");
      }
      p.remove_prefix(k);
    }
    if (seg.empty()) return error(line, "invalid path '" + std::string(whole) + "'");
    out.push_back(std::move(seg));
    if (!p.empty()) {
      if (p[0] != '.' && p[0] != '/') return error(line, "invalid path '" + std::string(whole) + "'");
      p.remove_prefix(1);
      if (p.empty()) return error(line, "invalid path '" + std::string(whole) + "'");
    }
  }
  return out;
}

Result<Expr> parse_word(std::string_view w, int line) {
  Expr e;
  e.source = std::string(w);
  if (w == "true" || w == "false") {
    e.literal = Json::boolean(w == "true");
    return e;
  }
  if (w == "null" || w == "undefined") return e;  // literal null
  if (is_number(w)) {
    e.literal = Json::number(std::stod(std::string(w)));
    return e;
  }
  if (w.starts_with("@")) {
    e.kind = Expr::Kind::kData;
    Result<std::vector<std::string>> segs = split_segments(w.substr(1), line, w);
    if (!segs.ok()) return segs.status();
    e.segments = std::move(segs).value();
    if (e.segments.empty()) return error(line, "invalid data variable '" + std::string(w) + "'");
    return e;
  }
  e.kind = Expr::Kind::kPath;
  std::string_view p = w;
  for (;;) {
    if (p.starts_with("../")) {
      ++e.depth_up;
      p.remove_prefix(3);
    } else if (p == "..") {
      ++e.depth_up;
      p = {};
    } else {
      break;
    }
  }
  if (p == "this" || p == ".") {
    e.explicit_self = true;
    p = {};
  } else if (p.starts_with("this.") || p.starts_with("this/") || p.starts_with("./")) {
    e.explicit_self = true;
    p.remove_prefix(p[0] == '.' ? 2 : 5);
    if (p.empty()) return error(line, "invalid path '" + std::string(w) + "'");
  }
  Result<std::vector<std::string>> segs = split_segments(p, line, w);
  if (!segs.ok()) return segs.status();
  e.segments = std::move(segs).value();
  return e;
}

}  // namespace

Result<Call> parse_call(std::string_view s, int line) {
  Call call;
  bool have_head = false;
  std::size_t i = 0;
  auto skip_space = [&] {
    while (i < s.size() && is_space(s[i])) ++i;
  };
  auto read_value = [&]() -> Result<Expr> {
    if (i >= s.size()) return error(line, "missing value in '" + std::string(s) + "'");
    char c = s[i];
    if (c == '(') return error(line, "subexpressions are not supported");
    if (c == '"' || c == '\'') {
      std::string text;
      for (++i; i < s.size() && s[i] != c; ++i) {
        if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == c) ++i;
        text.push_back(s[i]);
      }
      if (i >= s.size()) return error(line, "unterminated string literal");
      ++i;
      Expr e;
      e.literal = Json::string(text);
      e.source = std::string(1, c) + text + c;
      return e;
    }
    std::size_t start = i;
    while (i < s.size() && !is_space(s[i]) && s[i] != '=' && s[i] != '(' && s[i] != ')' && s[i] != '|') {
      if (s[i] == '[') {
        std::size_t close = s.find(']', i);
        if (close == std::string_view::npos) {
          i = s.size();
          break;
        }
        i = close;
      }
      ++i;
    }
    if (i == start) return error(line, "unexpected '" + std::string(1, s[i]) + "' in '" + std::string(s) + "'");
    return parse_word(s.substr(start, i - start), line);
  };
  for (skip_space(); i < s.size(); skip_space()) {
    if (s.substr(i).starts_with("as") && i + 2 < s.size() && is_space(s[i + 2])) {
      std::size_t j = i + 2;
      while (j < s.size() && is_space(s[j])) ++j;
      if (j < s.size() && s[j] == '|') {
        std::size_t close = s.find('|', j + 1);
        if (close == std::string_view::npos) return error(line, "unclosed block parameters 'as |'");
        std::string_view names = s.substr(j + 1, close - j - 1);
        for (std::size_t k = 0; k < names.size();) {
          while (k < names.size() && is_space(names[k])) ++k;
          std::size_t start = k;
          while (k < names.size() && !is_space(names[k])) ++k;
          if (k == start) break;
          std::string name(names.substr(start, k - start));
          for (char c : name) {
            if (!is_id_char(c)) return error(line, "invalid block parameter '" + name + "'");
          }
          call.block_params.push_back(std::move(name));
        }
        if (call.block_params.empty()) return error(line, "empty block parameters 'as ||'");
        i = close + 1;
        skip_space();
        if (i != s.size()) return error(line, "unexpected text after block parameters");
        break;
      }
    }
    std::size_t start = i;
    while (i < s.size() && is_id_char(s[i])) ++i;
    if (i > start && i < s.size() && s[i] == '=') {  // key=value
      if (!have_head) return error(line, "expected a name before '" + std::string(s.substr(start)) + "'");
      std::string key(s.substr(start, i - start));
      ++i;
      Result<Expr> value = read_value();
      if (!value.ok()) return value.status();
      call.hash.emplace_back(std::move(key), std::move(value).value());
      continue;
    }
    i = start;
    Result<Expr> value = read_value();
    if (!value.ok()) return value.status();
    if (!have_head) {
      call.head = std::move(value).value();
      have_head = true;
      const Expr& h = call.head;
      if (h.kind == Expr::Kind::kPath && !h.explicit_self && h.depth_up == 0 && h.segments.size() == 1) {
        call.name = h.segments[0];
      }
    } else if (!call.hash.empty()) {
      return error(line, "positional argument after key=value arguments");
    } else {
      call.params.push_back(std::move(value).value());
    }
  }
  if (!have_head) return error(line, "empty tag");
  return call;
}

}  // namespace genkit::handlebars_internal
