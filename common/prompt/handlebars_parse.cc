// Builds the syntax tree from tokens and validates every tag, so that a bad
// template fails when it is loaded, never while serving a request.
#include <string>
#include <string_view>

#include "common/prompt/handlebars.h"
#include "common/prompt/handlebars_ast.h"

namespace genkit {
namespace handlebars_internal {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

Status error(int line, const std::string& message) {
  return invalid_argument("line " + std::to_string(line) + ": " + message);
}

Status check_arity(const Call& c, std::size_t params, std::initializer_list<std::string_view> keys,
                   bool block_params, int line, std::string_view what) {
  if (c.params.size() != params) {
    return error(line, std::string(what) + " takes " + std::to_string(params) + " argument" +
                           (params == 1 ? "" : "s") + ", got " + std::to_string(c.params.size()));
  }
  for (const auto& [key, value] : c.hash) {
    bool known = false;
    for (std::string_view k : keys) known = known || k == key;
    if (!known) return error(line, std::string(what) + " does not take '" + key + "='");
  }
  if (!block_params && !c.block_params.empty()) {
    return error(line, std::string(what) + " does not take block parameters");
  }
  return Status::ok();
}

Node node_from(Call&& c, Node::Kind kind, int line) {
  Node n;
  n.kind = kind;
  n.line = line;
  n.params = std::move(c.params);
  n.hash = std::move(c.hash);
  n.block_params = std::move(c.block_params);
  return n;
}

// {{name ...}}: a known helper or a plain value.
Result<Node> make_mustache(std::string_view text, int line) {
  Result<Call> parsed = parse_call(text, line);
  if (!parsed.ok()) return parsed.status();
  Call c = std::move(parsed).value();
  const std::string& name = c.name;
  Status s;
  Node::Kind kind;
  if (name == "json") {
    kind = Node::Kind::kJson;
    s = check_arity(c, 1, {"indent"}, false, line, "{{json}}");
  } else if (name == "role") {
    kind = Node::Kind::kRole;
    s = check_arity(c, 1, {}, false, line, "{{role}}");
    if (s.is_ok() && c.params[0].kind == Expr::Kind::kLiteral) {
      Role role;
      JsonView v = c.params[0].literal.view();
      if (!v.is_string() || !parse_role(v.as_string(), &role)) {
        s = error(line, "unknown role " + c.params[0].source + " (expected user, model, system or tool)");
      }
    }
  } else if (name == "media") {
    kind = Node::Kind::kMedia;
    s = check_arity(c, 0, {"url", "contentType"}, false, line, "{{media}}");
    bool has_url = false;
    for (const auto& kv : c.hash) has_url = has_url || kv.first == "url";
    if (s.is_ok() && !has_url) s = error(line, "{{media}} needs url=");
  } else if (name == "history") {
    kind = Node::Kind::kHistory;
    s = check_arity(c, 0, {}, false, line, "{{history}}");
  } else {
    if (c.head.kind == Expr::Kind::kLiteral) return error(line, "expected a name, got " + c.head.source);
    if (!c.params.empty() || !c.hash.empty() || !c.block_params.empty()) {
      return error(line, "unknown helper '" + c.head.source + "'");
    }
    Node n;
    n.kind = Node::Kind::kValue;
    n.line = line;
    n.params.push_back(std::move(c.head));
    return n;
  }
  if (!s.is_ok()) return s;
  return node_from(std::move(c), kind, line);
}

// {{#name ...}}: validates a block helper call (its body is parsed later).
Result<Node> make_block(std::string_view text, int line, std::string* name_out) {
  Result<Call> parsed = parse_call(text, line);
  if (!parsed.ok()) return parsed.status();
  Call c = std::move(parsed).value();
  std::string name = c.name;
  Node::Kind kind;
  Status s;
  if (name == "if" || name == "unless") {
    kind = name == "if" ? Node::Kind::kIf : Node::Kind::kUnless;
    s = check_arity(c, 1, {}, false, line, "{{#" + name + "}}");
  } else if (name == "each") {
    kind = Node::Kind::kEach;
    s = check_arity(c, 1, {}, true, line, "{{#each}}");
    if (s.is_ok() && c.block_params.size() > 2) s = error(line, "{{#each}} takes at most 2 block parameters");
  } else if (name == "with") {
    kind = Node::Kind::kWith;
    s = check_arity(c, 1, {}, true, line, "{{#with}}");
    if (s.is_ok() && c.block_params.size() > 1) s = error(line, "{{#with}} takes at most 1 block parameter");
  } else if (name == "ifEquals" || name == "unlessEquals") {
    kind = name == "ifEquals" ? Node::Kind::kIfEquals : Node::Kind::kUnlessEquals;
    s = check_arity(c, 2, {}, false, line, "{{#" + name + "}}");
  } else {
    return error(line, "unknown block helper '#" + c.head.source + "'");
  }
  if (!s.is_ok()) return s;
  *name_out = std::move(name);
  return node_from(std::move(c), kind, line);
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Result<std::vector<Node>> parse_root() {
    Stop stop;
    Result<std::vector<Node>> nodes = parse_nodes(0, &stop);
    if (!nodes.ok()) return nodes;
    if (stop.kind == Stop::kClose) {
      return error(stop.line, "unexpected {{/" + stop.text + "}} with no open block");
    }
    if (stop.kind == Stop::kElse) return error(stop.line, "{{else}} outside a block");
    return nodes;
  }

 private:
  struct Stop {
    enum Kind { kEnd, kElse, kClose } kind = kEnd;
    int line = 0;
    std::string text;  // kClose: the block name; kElse: what follows "else" ("" or "if x")
  };

  // Parses nodes until the end, an {{else}} or a {{/close}} (reported in *stop).
  Result<std::vector<Node>> parse_nodes(int depth, Stop* stop) {
    std::vector<Node> out;
    while (pos_ < tokens_.size()) {
      const Token& t = tokens_[pos_++];
      if (t.kind == Token::Kind::kComment) continue;
      if (t.kind == Token::Kind::kText) {
        if (t.text.empty()) continue;
        Node n;
        n.kind = Node::Kind::kText;
        n.line = t.line;
        n.text = t.text;
        out.push_back(std::move(n));
        continue;
      }
      std::string_view c = trim(t.text);
      if (c.empty()) return error(t.line, "empty tag");
      Result<Node> node = Status();
      if (t.triple) {
        node = make_mustache(c, t.line);
      } else if (c[0] == '/') {
        *stop = {Stop::kClose, t.line, std::string(trim(c.substr(1)))};
        return out;
      } else if (c == "else" || c == "^" || (c.starts_with("else") && is_space(c[4]))) {
        *stop = {Stop::kElse, t.line, c == "^" ? "" : std::string(trim(c.substr(4)))};
        return out;
      } else if (c[0] == '#') {
        if (c.size() > 1 && (c[1] == '>' || c[1] == '*')) {
          return error(t.line, "partial blocks and decorators are not supported");
        }
        node = parse_block(c.substr(1), t.line, depth + 1, nullptr, 0);
      } else if (c[0] == '>') {
        return error(t.line, "partials are not supported");
      } else if (c[0] == '^') {
        return error(t.line, "inverted sections are not supported; use {{#unless}}");
      } else {
        node = make_mustache(c, t.line);
      }
      if (!node.ok()) return node.status();
      out.push_back(std::move(node).value());
    }
    *stop = {Stop::kEnd, 0, {}};
    return out;
  }

  // Parses a block from its opening call to its close. An {{else if ...}}
  // link is parsed as a nested block sharing the outer block's close tag
  // (`outer`, opened on `outer_line`).
  Result<Node> parse_block(std::string_view call, int line, int depth, const std::string* outer,
                           int outer_line) {
    if (depth > kMaxBlockDepth) {
      return error(line, "blocks nested deeper than " + std::to_string(kMaxBlockDepth));
    }
    std::string name;
    Result<Node> made = make_block(call, line, &name);
    if (!made.ok()) return made;
    Node node = std::move(made).value();
    const std::string& closer = outer ? *outer : name;
    int open_line = outer ? outer_line : line;
    Stop stop;
    Result<std::vector<Node>> body = parse_nodes(depth, &stop);
    if (!body.ok()) return body.status();
    node.body = std::move(body).value();
    if (stop.kind == Stop::kElse && !stop.text.empty()) {
      Result<Node> link = parse_block(stop.text, stop.line, depth + 1, &closer, open_line);
      if (!link.ok()) return link;
      node.inverse.push_back(std::move(link).value());
      return node;  // the link consumed the shared close tag
    }
    if (stop.kind == Stop::kElse) {
      Result<std::vector<Node>> inverse = parse_nodes(depth, &stop);
      if (!inverse.ok()) return inverse.status();
      node.inverse = std::move(inverse).value();
      if (stop.kind == Stop::kElse) {
        return error(stop.line, "second {{else}} in {{#" + closer + "}} opened on line " +
                                    std::to_string(open_line));
      }
    }
    if (stop.kind == Stop::kEnd) {
      return error(open_line, "{{#" + closer + "}} is never closed");
    }
    if (stop.text != closer) {
      return error(stop.line, "{{/" + stop.text + "}} does not match {{#" + closer + "}} opened on line " +
                                  std::to_string(open_line));
    }
    return node;
  }

  const std::vector<Token>& tokens_;
  std::size_t pos_ = 0;
};

}  // namespace
}  // namespace handlebars_internal

Result<HandlebarsTemplate> HandlebarsTemplate::parse(std::string_view source, int first_line) {
  using namespace handlebars_internal;
  Result<std::vector<Token>> tokens = tokenize(source, first_line);
  if (!tokens.ok()) return tokens.status();
  Parser parser(tokens.value());
  Result<std::vector<Node>> nodes = parser.parse_root();
  if (!nodes.ok()) return nodes.status();
  auto program = std::make_shared<Program>();
  program->nodes = std::move(nodes).value();
  return HandlebarsTemplate(std::move(program));
}

}  // namespace genkit
