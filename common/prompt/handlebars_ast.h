// Internal: tokens and syntax tree shared by the Handlebars parser and renderer.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace genkit::handlebars_internal {

// Blocks nest at most this deep; the renderer recurses along the tree, so this
// also bounds its stack use on untrusted templates.
constexpr int kMaxBlockDepth = 64;

struct Token {
  enum class Kind { kText, kTag, kComment };
  Kind kind = Kind::kText;
  std::string text;         // kText: literal text; kTag: contents between the braces, without '~'
  int line = 1;             // where the token starts
  bool triple = false;      // {{{ }}} or {{& }}: same output, noted for error messages
  bool strip_left = false;  // {{~
  bool strip_right = false; // ~}}
};

// Splits a template into text, tags and comments, then applies `~` stripping
// and Handlebars' standalone-line rules. Errors on an unterminated tag.
Result<std::vector<Token>> tokenize(std::string_view source, int first_line);

// A parameter: literal or path expression.
struct Expr {
  enum class Kind { kLiteral, kPath, kData };
  Kind kind = Kind::kLiteral;
  Json literal;                       // kLiteral
  int depth_up = 0;                   // kPath: number of leading ../
  bool explicit_self = false;         // kPath: this / ./ prefix (never a block param or helper)
  std::vector<std::string> segments;  // kPath: a.b -> {a, b}; kData: @root.a -> {root, a}
  std::string source;                 // as written, for messages
};

// A tag's contents after its sigil: head params... key=value... [as |a b|].
struct Call {
  std::string name;  // the head when it is a bare one-segment path (helper candidates), else ""
  Expr head;
  std::vector<Expr> params;
  std::vector<std::pair<std::string, Expr>> hash;
  std::vector<std::string> block_params;
};

Result<Call> parse_call(std::string_view text, int line);

struct Node {
  enum class Kind {
    kText,
    kValue,    // {{path}}
    kJson,     // {{json v indent=n}}
    kRole,     // {{role "system"}}
    kMedia,    // {{media url=... contentType=...}}
    kHistory,  // {{history}}: no-op here
    kIf,
    kUnless,
    kEach,
    kWith,
    kIfEquals,
    kUnlessEquals,
  };
  Kind kind = Kind::kText;
  int line = 1;
  std::string text;                                 // kText
  std::vector<Expr> params;                         // positional parameters (kValue: the path)
  std::vector<std::pair<std::string, Expr>> hash;   // key=value arguments
  std::vector<std::string> block_params;            // as |a b|
  std::vector<Node> body;                           // blocks: main branch
  std::vector<Node> inverse;                        // blocks: {{else}} branch

  const Expr* hash_arg(std::string_view key) const {
    for (const auto& [k, v] : hash) {
      if (k == key) return &v;
    }
    return nullptr;
  }
};

struct Program {
  std::vector<Node> nodes;
};

}  // namespace genkit::handlebars_internal
