// Renders a compiled template against JSON input into messages. Values are
// looked up and stringified the way Handlebars does in JavaScript.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/prompt/handlebars.h"
#include "common/prompt/handlebars_ast.h"

namespace genkit {
namespace handlebars_internal {
namespace {

// Caps output from templates that loop over large inputs (each inside each).
constexpr std::size_t kMaxOutputBytes = 16u << 20;

bool is_blank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\f' && c != '\v') return false;
  }
  return true;
}

// JavaScript's Number#toString: integers without ".0", else the shortest
// representation that round-trips, exponents as "1e+21" / "1e-7".
std::string js_number(double d) {
  if (d == 0) return "0";  // also -0
  char buf[40];
  if (std::floor(d) == d && std::fabs(d) < 1e21) {
    std::snprintf(buf, sizeof buf, "%.0f", d);
    return buf;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  std::string s = buf;
  std::size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string mantissa = s.substr(0, e);
  char sign = s[e + 1];
  std::string digits = s.substr(e + 2);
  while (digits.size() > 1 && digits[0] == '0') digits.erase(0, 1);
  return mantissa + "e" + (sign == '-' ? "-" : "+") + digits;
}

// JSON.stringify(value, null, indent).
void write_json(JsonView v, std::string_view indent, int level, std::string& out) {
  auto newline = [&](int lvl) {
    if (indent.empty()) return;
    out.push_back('\n');
    for (int i = 0; i < lvl; ++i) out += indent;
  };
  if (v.is_string()) {
    out += json_quote(v.as_string());
  } else if (v.is_number()) {
    out += js_number(v.as_number());
  } else if (v.is_bool()) {
    out += v.as_bool() ? "true" : "false";
  } else if (v.is_array() || v.is_object()) {
    bool object = v.is_object();
    out.push_back(object ? '{' : '[');
    bool first = true;
    v.for_each([&](std::string_view key, JsonView child) {
      if (!first) out.push_back(',');
      first = false;
      newline(level + 1);
      if (object) {
        out += json_quote(key);
        out += indent.empty() ? ":" : ": ";
      }
      write_json(child, indent, level + 1, out);
    });
    if (!first) newline(level);
    out.push_back(object ? '}' : ']');
  } else {
    out += "null";
  }
}

// How Handlebars prints a value: missing/null empty, arrays joined by ",".
void append_value(JsonView v, std::string& out) {
  if (v.is_string()) {
    out += v.as_string();
  } else if (v.is_number()) {
    out += js_number(v.as_number());
  } else if (v.is_bool()) {
    out += v.as_bool() ? "true" : "false";
  } else if (v.is_array()) {
    bool first = true;
    v.for_each([&](std::string_view, JsonView child) {
      if (!first) out.push_back(',');
      first = false;
      append_value(child, out);
    });
  } else if (v.is_object()) {
    out += "[object Object]";
  }
}

// JavaScript truthiness (#if/#unless).
bool truthy(JsonView v) {
  if (v.is_bool()) return v.as_bool();
  if (v.is_number()) return v.as_number() != 0;
  if (v.is_string()) return !v.as_string().empty();
  if (v.is_array()) return v.size() > 0;
  return v.is_object();
}

// Handlebars' isEmpty (#with): like falsy, except that 0 counts as a value.
bool is_empty(JsonView v) { return !v.is_number() && !truthy(v); }

bool equal(JsonView a, JsonView b) {
  if (!a.present() || !b.present()) return a.present() == b.present();
  if (a.is_number() && b.is_number()) return a.as_number() == b.as_number();
  return a.dump() == b.dump();
}

// A looked-up value; `view` may point into `holder` (computed values such as
// @index). Move-only: a copy would leave `view` pointing at the original.
struct Value {
  JsonView view;
  std::optional<Json> holder;  // optional: a default Json would allocate a null node per lookup
  Value() = default;
  explicit Value(JsonView v) : view(v) {}
  explicit Value(Json owned) : holder(std::move(owned)) { view = holder->view(); }
  Value(Value&&) = default;
  Value& operator=(Value&&) = default;
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
};

// One context-changing scope (root, #each item, #with).
struct Frame {
  JsonView context;
  const Frame* parent = nullptr;
  bool loop = false;  // has @index/@key/@first/@last
  std::size_t index = 0;
  std::string_view key;
  bool is_object = false;
  bool first = false, last = false;
  const std::vector<std::string>* param_names = nullptr;  // as |item index|
  JsonView param_values[2];
};

class Output {
 public:
  Status text(std::string_view s) {
    total_ += s.size();
    if (total_ > kMaxOutputBytes) return invalid_argument("rendered prompt exceeds 16 MiB");
    buffer_ += s;
    return Status::ok();
  }
  void media(std::string url, std::string content_type) {
    flush();
    current_.content.push_back(Part::media_part(std::move(url), std::move(content_type)));
  }
  void role(Role role) {
    flush();
    if (has_content(current_)) messages_.push_back(std::move(current_));
    current_ = Message();
    current_.role = role;
  }
  std::vector<Message> finish() {
    flush();
    if (has_content(current_)) messages_.push_back(std::move(current_));
    for (Message& m : messages_) std::erase_if(m.content, [](const Part& p) { return blank_text(p); });
    return std::move(messages_);
  }

 private:
  static bool blank_text(const Part& p) { return p.kind == Part::Kind::kText && is_blank(p.text); }
  static bool has_content(const Message& m) {
    for (const Part& p : m.content) {
      if (!blank_text(p)) return true;
    }
    return false;
  }
  void flush() {
    if (buffer_.empty()) return;
    current_.content.push_back(Part::text_part(std::move(buffer_)));
    buffer_.clear();
  }

  std::vector<Message> messages_;
  Message current_;
  std::string buffer_;
  std::size_t total_ = 0;
};

class Renderer {
 public:
  explicit Renderer(JsonView root) : root_(root) {}

  Status render(const std::vector<Node>& nodes, const Frame& frame) {
    for (const Node& node : nodes) {
      if (Status s = render_node(node, frame); !s.is_ok()) return s;
    }
    return Status::ok();
  }

  std::vector<Message> finish() { return out_.finish(); }

 private:
  Value walk(JsonView v, const std::vector<std::string>& segments, std::size_t from) const {
    for (std::size_t i = from; i < segments.size(); ++i) {
      const std::string& seg = segments[i];
      if (v.is_object()) {
        v = v[seg];
      } else if (v.is_array() && seg == "length") {
        return Value(Json::number(static_cast<double>(v.size())));
      } else if (v.is_array() && !seg.empty() && seg.size() < 10 &&
                 seg.find_first_not_of("0123456789") == std::string::npos) {
        v = v.at(std::stoul(seg));
      } else {
        return Value();
      }
    }
    return Value(v);
  }

  Value eval(const Expr& e, const Frame& frame) const {
    if (e.kind == Expr::Kind::kLiteral) return Value(e.literal.view());
    if (e.kind == Expr::Kind::kData) return eval_data(e, frame);
    if (!e.explicit_self && e.depth_up == 0 && !e.segments.empty()) {
      for (const Frame* f = &frame; f; f = f->parent) {
        if (!f->param_names) continue;
        for (std::size_t i = 0; i < f->param_names->size(); ++i) {
          if ((*f->param_names)[i] == e.segments[0]) return walk(f->param_values[i], e.segments, 1);
        }
      }
    }
    const Frame* f = &frame;
    for (int i = 0; i < e.depth_up; ++i) {
      if (!f->parent) return Value();
      f = f->parent;
    }
    return walk(f->context, e.segments, 0);
  }

  Value eval_data(const Expr& e, const Frame& frame) const {
    const std::string& name = e.segments[0];
    if (name == "root") return walk(root_, e.segments, 1);
    const Frame* f = &frame;
    while (f && !f->loop) f = f->parent;
    if (!f || e.segments.size() != 1) return Value();
    if (name == "index") return Value(Json::number(static_cast<double>(f->index)));
    if (name == "first") return Value(Json::boolean(f->first));
    if (name == "last") return Value(Json::boolean(f->last));
    if (name == "key") {
      return f->is_object ? Value(Json::string(f->key)) : Value(Json::number(static_cast<double>(f->index)));
    }
    return Value();
  }

  Status render_node(const Node& node, const Frame& frame) {
    switch (node.kind) {
      case Node::Kind::kText: return out_.text(node.text);
      case Node::Kind::kHistory: return Status::ok();
      case Node::Kind::kValue: {
        std::string s;
        append_value(eval(node.params[0], frame).view, s);
        return out_.text(s);
      }
      case Node::Kind::kJson: {
        Value v = eval(node.params[0], frame);
        if (!v.view.present()) return Status::ok();  // JSON.stringify(undefined)
        std::string indent;
        if (const Expr* e = node.hash_arg("indent")) {
          Value iv = eval(*e, frame);
          if (iv.view.is_number()) indent.assign(static_cast<std::size_t>(std::clamp(iv.view.as_number(), 0.0, 10.0)), ' ');
          if (iv.view.is_string()) indent = std::string(iv.view.as_string().substr(0, 10));
        }
        std::string s;
        write_json(v.view, indent, 0, s);
        return out_.text(s);
      }
      case Node::Kind::kRole: {
        Value v = eval(node.params[0], frame);
        Role role;
        if (!v.view.is_string() || !parse_role(v.view.as_string(), &role)) {
          return invalid_argument("line " + std::to_string(node.line) + ": {{role}} got " + v.view.dump() +
                                  ", expected user, model, system or tool");
        }
        out_.role(role);
        return Status::ok();
      }
      case Node::Kind::kMedia: {
        std::string url, content_type;
        append_value(eval(*node.hash_arg("url"), frame).view, url);
        if (const Expr* ct = node.hash_arg("contentType")) append_value(eval(*ct, frame).view, content_type);
        // An absent URL (optional image input) adds nothing.
        if (!url.empty()) out_.media(std::move(url), std::move(content_type));
        return Status::ok();
      }
      case Node::Kind::kIf:
      case Node::Kind::kUnless: {
        bool cond = truthy(eval(node.params[0], frame).view) == (node.kind == Node::Kind::kIf);
        return render(cond ? node.body : node.inverse, frame);
      }
      case Node::Kind::kIfEquals:
      case Node::Kind::kUnlessEquals: {
        bool eq = equal(eval(node.params[0], frame).view, eval(node.params[1], frame).view);
        bool cond = eq == (node.kind == Node::Kind::kIfEquals);
        return render(cond ? node.body : node.inverse, frame);
      }
      case Node::Kind::kWith: {
        Value v = eval(node.params[0], frame);
        if (is_empty(v.view)) return render(node.inverse, frame);
        Frame child;
        child.context = v.view;
        child.parent = &frame;
        if (!node.block_params.empty()) {
          child.param_names = &node.block_params;
          child.param_values[0] = v.view;
        }
        return render(node.body, child);
      }
      case Node::Kind::kEach: return render_each(node, frame);
    }
    return Status::ok();
  }

  Status render_each(const Node& node, const Frame& frame) {
    Value list = eval(node.params[0], frame);
    JsonView v = list.view;
    std::size_t n = (v.is_array() || v.is_object()) ? v.size() : 0;
    if (n == 0) return render(node.inverse, frame);
    Status status;
    std::size_t i = 0;
    v.for_each([&](std::string_view key, JsonView item) {
      if (!status.is_ok()) return;
      Frame child;
      child.context = item;
      child.parent = &frame;
      child.loop = true;
      child.index = i;
      child.key = key;
      child.is_object = v.is_object();
      child.first = i == 0;
      child.last = i + 1 == n;
      std::optional<Json> index_value;
      if (!node.block_params.empty()) {
        index_value = child.is_object ? Json::string(key) : Json::number(static_cast<double>(i));
        child.param_names = &node.block_params;
        child.param_values[0] = item;
        child.param_values[1] = index_value->view();
      }
      status = render(node.body, child);
      ++i;
    });
    return status;
  }

  JsonView root_;
  Output out_;
};

}  // namespace
}  // namespace handlebars_internal

Result<std::vector<Message>> HandlebarsTemplate::render(JsonView context) const {
  using namespace handlebars_internal;
  Renderer renderer(context);
  Frame root;
  root.context = context;
  if (program_) {
    if (Status s = renderer.render(program_->nodes, root); !s.is_ok()) return s;
  }
  return renderer.finish();
}

}  // namespace genkit
