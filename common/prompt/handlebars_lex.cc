// Tokenizer for the Handlebars subset: splits text from {{tags}} and applies
// whitespace control, so the parser only sees meaningful text.
#include <string>
#include <string_view>

#include "common/prompt/handlebars_ast.h"

namespace genkit::handlebars_internal {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
bool is_inline_space(char c) { return is_space(c) && c != '\n'; }

int count_newlines(std::string_view s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

Status unterminated(int line, std::string_view what) {
  return invalid_argument("line " + std::to_string(line) + ": unterminated " + std::string(what));
}

// Reads the tag opening at `open` ("{{"); sets *end past its closing braces.
Result<Token> read_tag(std::string_view s, std::size_t open, int line, std::size_t* end) {
  Token t;
  t.kind = Token::Kind::kTag;
  t.line = line;
  std::size_t j = open + 2;
  if (j < s.size() && s[j] == '~') {
    t.strip_left = true;
    ++j;
  }
  std::string_view rest = s.substr(j);
  if (rest.starts_with("!--")) {  // {{!-- may contain }} --}}
    t.kind = Token::Kind::kComment;
    for (std::size_t k = s.find("--", j + 3); k != std::string_view::npos; k = s.find("--", k + 1)) {
      if (s.compare(k + 2, 2, "}}") == 0) {
        *end = k + 4;
        return t;
      }
      if (s.compare(k + 2, 3, "~}}") == 0) {
        t.strip_right = true;
        *end = k + 5;
        return t;
      }
    }
    return unterminated(line, "comment '{{!--'");
  }
  if (rest.starts_with("{")) {  // {{{x}}} or {{~{x}~}}
    t.triple = true;
    for (std::size_t k = s.find('}', j + 1); k != std::string_view::npos; k = s.find('}', k + 1)) {
      if (s.compare(k + 1, 2, "}}") == 0 || s.compare(k + 1, 3, "~}}") == 0) {
        t.strip_right = s[k + 1] == '~';
        t.text = std::string(s.substr(j + 1, k - j - 1));
        *end = k + (t.strip_right ? 4 : 3);
        // Tolerate {{{~x~}}} too: the tildes cannot be part of a name anyway.
        if (!t.text.empty() && t.text.front() == '~') {
          t.strip_left = true;
          t.text.erase(0, 1);
        }
        if (!t.text.empty() && t.text.back() == '~') {
          t.strip_right = true;
          t.text.pop_back();
        }
        return t;
      }
    }
    return unterminated(line, "'{{{'");
  }
  std::size_t k = s.find("}}", j);
  if (k == std::string_view::npos) return unterminated(line, "'{{'");
  *end = k + 2;
  std::string_view inner = s.substr(j, k - j);
  if (!inner.empty() && inner.back() == '~') {
    t.strip_right = true;
    inner.remove_suffix(1);
  }
  if (inner.starts_with("!")) {
    t.kind = Token::Kind::kComment;
    return t;
  }
  if (inner.starts_with("&")) {  // {{& x}}: unescaped, same as {{x}} here
    t.triple = true;
    inner.remove_prefix(1);
  }
  t.text = std::string(inner);
  return t;
}

// Block open/close/else tags and comments may stand alone on a line; then
// Handlebars removes that whole line from the output.
bool may_stand_alone(const Token& t) {
  if (t.kind == Token::Kind::kComment) return true;
  if (t.kind != Token::Kind::kTag || t.triple) return false;
  std::string_view s = t.text;
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  if (s.empty()) return false;
  if (s[0] == '#' || s[0] == '/' || s[0] == '^') return true;
  return s == "else" || (s.starts_with("else") && s.size() > 4 && is_space(s[4]));
}

// Text before a standalone tag: only inline whitespace since the last newline
// (or since the template start when it is the first token).
bool prev_is_blank_line(std::string_view text, bool first_token) {
  std::size_t nl = text.rfind('\n');
  if (nl == std::string_view::npos && !first_token) return false;
  std::string_view tail = nl == std::string_view::npos ? text : text.substr(nl + 1);
  for (char c : tail) {
    if (!is_inline_space(c)) return false;
  }
  return true;
}

// Text after a standalone tag: only inline whitespace up to the next newline
// (or up to the template end when it is the last token).
bool next_is_blank_line(std::string_view text, bool last_token) {
  std::size_t nl = text.find('\n');
  if (nl == std::string_view::npos && !last_token) return false;
  std::string_view head = nl == std::string_view::npos ? text : text.substr(0, nl);
  for (char c : head) {
    if (!is_inline_space(c)) return false;
  }
  return true;
}

void apply_whitespace_control(std::vector<Token>& tokens) {
  // Standalone checks look at the text as written, before any stripping.
  std::vector<std::string> original;
  original.reserve(tokens.size());
  for (const Token& t : tokens) original.push_back(t.text);
  auto is_text = [&](std::size_t i) { return tokens[i].kind == Token::Kind::kText; };

  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.kind == Token::Kind::kText) continue;
    bool has_prev = i > 0, has_next = i + 1 < tokens.size();
    if (t.strip_left && has_prev && is_text(i - 1)) {
      std::string& p = tokens[i - 1].text;
      while (!p.empty() && is_space(p.back())) p.pop_back();
    }
    if (t.strip_right && has_next && is_text(i + 1)) {
      std::string& n = tokens[i + 1].text;
      std::size_t k = 0;
      while (k < n.size() && is_space(n[k])) ++k;
      n.erase(0, k);
    }
    if (!may_stand_alone(t)) continue;
    bool prev_ok = !has_prev || (is_text(i - 1) && prev_is_blank_line(original[i - 1], i == 1));
    bool next_ok = !has_next ||
                   (is_text(i + 1) && next_is_blank_line(original[i + 1], i + 2 == tokens.size()));
    if (!prev_ok || !next_ok) continue;
    if (has_prev) {
      std::string& p = tokens[i - 1].text;
      while (!p.empty() && (p.back() == ' ' || p.back() == '\t')) p.pop_back();
    }
    if (has_next) {
      std::string& n = tokens[i + 1].text;
      std::size_t k = 0;
      while (k < n.size() && (n[k] == ' ' || n[k] == '\t')) ++k;
      if (k < n.size() && n[k] == '\r') ++k;
      if (k < n.size() && n[k] == '\n') ++k;
      n.erase(0, k);
    }
  }
}

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view s, int first_line) {
  std::vector<Token> tokens;
  int line = first_line;
  std::string text;
  int text_line = line;
  std::size_t pos = 0;
  auto take_text = [&](std::string_view piece) {
    if (text.empty()) text_line = line;
    text += piece;
    line += count_newlines(piece);
  };
  auto flush_text = [&] {
    if (text.empty()) return;
    Token t;
    t.text = std::move(text);
    t.line = text_line;
    tokens.push_back(std::move(t));
    text.clear();
  };
  while (pos < s.size()) {
    std::size_t open = s.find("{{", pos);
    if (open == std::string_view::npos) {
      take_text(s.substr(pos));
      break;
    }
    if (open > pos && s[open - 1] == '\\') {  // \{{ is a literal "{{"
      take_text(s.substr(pos, open - 1 - pos));
      take_text("{{");
      pos = open + 2;
      continue;
    }
    take_text(s.substr(pos, open - pos));
    flush_text();
    std::size_t end = 0;
    Result<Token> tag = read_tag(s, open, line, &end);
    if (!tag.ok()) return tag.status();
    line += count_newlines(s.substr(open, end - open));
    tokens.push_back(std::move(tag).value());
    pos = end;
  }
  flush_text();
  apply_whitespace_control(tokens);
  return tokens;
}

}  // namespace genkit::handlebars_internal
