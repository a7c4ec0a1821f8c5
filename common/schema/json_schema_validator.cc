#include "common/schema/json_schema_validator.h"

#include <utility>

#include "common/schema/json_schema_walker.h"
#include "common/schema/regex_cache.h"

namespace genkit {

namespace schema_internal {

std::string child_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string render(JsonView v) {
  constexpr std::size_t kMax = 80;
  std::string text = v.dump();
  if (text.size() > kMax) text = text.substr(0, kMax) + "...";
  return text;
}

namespace {

bool type_matches(std::string_view type, JsonView v) {
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") return v.is_integer();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "boolean") return v.is_bool();
  if (type == "null") return v.is_null();
  return false;
}

}  // namespace

bool Walker::fail(const std::string& path, const std::string& message) {
  if (collecting_ && errors_.size() < kMaxErrors) errors_.push_back((path.empty() ? "(root)" : path) + ": " + message);
  return false;
}

bool Walker::abort(const std::string& path, const std::string& message) {
  // Only the first: later ones are usually echoes of it from enclosing branches.
  if (!aborted_) errors_.push_back((path.empty() ? "(root)" : path) + ": " + message);
  aborted_ = true;
  return false;
}

bool Walker::matches(const std::string& pattern, std::string_view subject, const std::string& path, bool* ok) {
  switch (search_pattern(pattern, subject)) {
    case PatternMatch::kMatch: return true;
    case PatternMatch::kNoMatch: return false;
    case PatternMatch::kInvalidPattern:
      *ok = abort(path, "unsupported regex " + json_quote(pattern) + " in schema");
      return false;
    case PatternMatch::kSubjectTooLong:
      *ok = abort(path, "string longer than " + std::to_string(kMaxPatternSubjectBytes) +
                            " bytes cannot be checked against pattern " + json_quote(pattern));
      return false;
  }
  return false;
}

bool Walker::probe(JsonView schema, JsonView inst, const std::string& path, int depth) {
  bool saved = std::exchange(collecting_, false);
  bool ok = check(schema, inst, path, depth);
  collecting_ = saved;
  return ok && !aborted_;
}

bool Walker::check(JsonView s, JsonView inst, const std::string& path, int depth) {
  if (aborted_) return false;
  if (++steps_ > kMaxSteps) {
    return abort(path, "schema evaluation exceeded " + std::to_string(kMaxSteps) + " steps (cyclic $ref?)");
  }
  if (depth > kMaxDepth) {
    return abort(path, "schema nesting deeper than " + std::to_string(kMaxDepth) + " levels (cyclic $ref?)");
  }
  if (s.is_bool()) return s.as_bool() || fail(path, "False schema does not allow " + render(inst));
  if (!s.is_object()) return abort(path, "invalid schema: expected an object or a boolean, got " + render(s));
  // Draft-07: a $ref replaces its sibling keywords.
  if (JsonView ref = s["$ref"]; ref.is_string()) return check_ref(ref.as_string(), inst, path, depth);

  bool ok = true;
  auto stop_after = [&](bool result) {
    ok = result && ok;
    return settled(ok);
  };
  if (stop_after(check_generic(s, inst, path))) return false;
  if (stop_after(check_numeric(s, inst, path))) return false;
  if (stop_after(check_string(s, inst, path))) return false;
  if (stop_after(check_array(s, inst, path, depth))) return false;
  if (stop_after(check_object(s, inst, path, depth))) return false;
  if (stop_after(check_combinators(s, inst, path, depth))) return false;
  return ok;
}

bool Walker::check_ref(std::string_view ref, JsonView inst, const std::string& path, int depth) {
  JsonView target = resolve_local_ref(root_, ref);
  if (!target.present()) return abort(path, "unsupported or unresolvable $ref " + json_quote(ref));
  return check(target, inst, path, depth + 1);
}

bool Walker::check_generic(JsonView s, JsonView inst, const std::string& path) {
  bool ok = true;
  if (JsonView type = s["type"]; type.present()) {
    bool any = false;
    std::string names;
    if (type.is_string()) {
      any = type_matches(type.as_string(), inst);
      names = json_quote(type.as_string());
    } else {
      type.for_each([&](std::string_view, JsonView t) {
        any = any || type_matches(t.as_string(), inst);
        names += (names.empty() ? "" : ", ") + json_quote(t.as_string());
      });
    }
    if (!any) ok = fail(path, render(inst) + " is not of type " + names);
  }
  if (JsonView e = s["enum"]; e.is_array()) {
    bool any = false;
    e.for_each([&](std::string_view, JsonView v) { any = any || json_equal(v, inst); });
    if (!any) ok = fail(path, render(inst) + " is not one of " + render(e));
  }
  if (JsonView c = s["const"]; c.present() && !json_equal(c, inst)) {
    ok = fail(path, render(c) + " was expected, got " + render(inst));
  }
  return ok;
}

bool Walker::check_combinators(JsonView s, JsonView inst, const std::string& path, int depth) {
  bool ok = true;
  if (JsonView all = s["allOf"]; all.is_array()) {
    all.for_each([&](std::string_view, JsonView sub) {
      if (!settled(ok)) ok = check(sub, inst, path, depth + 1) && ok;
    });
    if (settled(ok)) return false;
  }
  if (JsonView any = s["anyOf"]; any.is_array()) {
    bool matched = false;
    any.for_each([&](std::string_view, JsonView sub) {
      if (!matched && !aborted_) matched = probe(sub, inst, path, depth + 1);
    });
    if (!matched) ok = aborted_ ? false : fail(path, render(inst) + " is not valid under any of the given schemas");
  }
  if (JsonView one = s["oneOf"]; one.is_array()) {
    int matched = 0;
    one.for_each([&](std::string_view, JsonView sub) {
      if (matched < 2 && !aborted_ && probe(sub, inst, path, depth + 1)) ++matched;
    });
    if (aborted_) return false;
    if (matched == 0) ok = fail(path, render(inst) + " is not valid under any of the given schemas");
    if (matched > 1) ok = fail(path, render(inst) + " is valid under more than one of the given schemas");
  }
  if (JsonView n = s["not"]; n.present()) {
    bool matched = probe(n, inst, path, depth + 1);
    if (aborted_) return false;
    if (matched) ok = fail(path, render(inst) + " should not be valid under " + render(n));
  }
  if (JsonView cond = s["if"]; cond.present()) {
    bool holds = probe(cond, inst, path, depth + 1);
    if (aborted_) return false;
    JsonView branch = holds ? s["then"] : s["else"];
    if (branch.present()) ok = check(branch, inst, path, depth + 1) && ok;
  }
  return ok;
}

}  // namespace schema_internal

bool json_equal(JsonView a, JsonView b) {
  if (a.is_number() || b.is_number()) return a.is_number() && b.is_number() && a.as_number() == b.as_number();
  if (a.is_string() || b.is_string()) return a.is_string() && b.is_string() && a.as_string() == b.as_string();
  if (a.is_bool() || b.is_bool()) return a.is_bool() && b.is_bool() && a.as_bool() == b.as_bool();
  if (a.is_null() || b.is_null()) return a.is_null() && b.is_null();
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    std::vector<JsonView> rhs;
    b.for_each([&](std::string_view, JsonView v) { rhs.push_back(v); });
    std::size_t i = 0;
    bool equal = true;
    a.for_each([&](std::string_view, JsonView v) { equal = equal && json_equal(v, rhs[i++]); });
    return equal;
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    bool equal = true;
    a.for_each([&](std::string_view key, JsonView v) { equal = equal && json_equal(v, b[key]); });
    return equal;
  }
  return !a.present() && !b.present();
}

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// URI fragments are %-encoded before they are JSON pointers.
bool percent_decode(std::string_view in, std::string* out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// RFC 6901 token: "~1" is "/", "~0" is "~" (in that order of decoding).
bool unescape_token(std::string_view in, std::string* out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '~') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 1 >= in.size() || (in[i + 1] != '0' && in[i + 1] != '1')) return false;
    out->push_back(in[i + 1] == '0' ? '~' : '/');
    ++i;
  }
  return true;
}

JsonView step_into(JsonView node, const std::string& token) {
  if (node.is_object()) return node[token];
  if (!node.is_array() || token.empty() || token.size() > 9) return JsonView();
  if (token.size() > 1 && token[0] == '0') return JsonView();
  for (char c : token) {
    if (c < '0' || c > '9') return JsonView();
  }
  return node.at(static_cast<std::size_t>(std::stoul(token)));
}

}  // namespace

JsonView resolve_local_ref(JsonView root, std::string_view ref) {
  if (ref.empty() || ref[0] != '#') return JsonView();
  std::string pointer;
  if (!percent_decode(ref.substr(1), &pointer)) return JsonView();
  if (pointer.empty()) return root;
  if (pointer[0] != '/') return JsonView();  // plain-name fragments need $id support
  JsonView node = root;
  std::size_t start = 1;
  while (node.present()) {
    std::size_t end = pointer.find('/', start);
    std::string token;
    std::string_view raw = std::string_view(pointer).substr(start, end == std::string::npos ? end : end - start);
    if (!unescape_token(raw, &token)) return JsonView();
    node = step_into(node, token);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return node;
}

Status validate_json_schema(JsonView schema, JsonView instance) {
  schema_internal::Walker walker(schema);
  bool ok = walker.check(schema, instance, "", 0);
  if (ok && !walker.aborted()) return Status::ok();
  std::string message;
  for (const std::string& e : walker.errors()) message += (message.empty() ? "" : "; ") + e;
  return invalid_argument(message.empty() ? "(root): instance is invalid" : message);
}

}  // namespace genkit
