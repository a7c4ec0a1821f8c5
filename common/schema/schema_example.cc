#include "common/schema/schema_example.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/schema/json_schema_validator.h"
#include "common/schema/regex_cache.h"
#include "common/schema/utf8.h"

namespace genkit {

namespace {

constexpr int kMaxDepth = 32;
// A schema may ask for more than an example should hold.
constexpr int64_t kMaxExampleItems = 1000;
constexpr int64_t kMaxExampleLength = 100000;

class Generator {
 public:
  explicit Generator(JsonView root) : root_(root) {}

  Json value(JsonView s, std::string_view text, int depth) {
    if (depth > kMaxDepth) return Json::null();
    if (s.is_bool() || !s.is_object()) return Json::string(text);
    if (JsonView ref = s["$ref"]; ref.is_string()) return value(resolve_local_ref(root_, ref.as_string()), text, depth + 1);
    if (JsonView c = s["const"]; c.present()) return Json::copy_of(c);
    if (JsonView e = s["enum"]; e.is_array() && e.size() > 0) return Json::copy_of(e.at(0));
    if (JsonView any = s["anyOf"]; any.is_array() && any.size() > 0) return value(any.at(0), text, depth + 1);
    if (JsonView one = s["oneOf"]; one.is_array() && one.size() > 0) return value(one.at(0), text, depth + 1);
    if (JsonView all = s["allOf"]; all.is_array() && all.size() > 0) {
      Json merged = merge_all_of(s, depth);
      return value(merged.view(), text, depth + 1);
    }
    std::string type = pick_type(s);
    if (type == "object") return object(s, text, depth);
    if (type == "array") return array(s, text, depth);
    if (type == "integer") return Json::number(integer(s));
    if (type == "number") return Json::number(number(s));
    if (type == "boolean") return Json::boolean(true);
    if (type == "null") return Json::null();
    return Json::string(string(s, text));
  }

 private:
  // The first non-null declared type, else one implied by the keywords.
  static std::string pick_type(JsonView s) {
    JsonView type = s["type"];
    if (type.is_string()) return std::string(type.as_string());
    std::string chosen;
    type.for_each([&](std::string_view, JsonView t) {
      if (chosen.empty() && t.as_string() != "null") chosen = t.as_string();
    });
    if (!chosen.empty()) return chosen;
    if (type.is_array() && type.size() > 0) return "null";
    if (s["properties"].present() || s["required"].present()) return "object";
    if (s["items"].present()) return "array";
    if (s["minimum"].present() || s["maximum"].present() || s["multipleOf"].present()) return "number";
    return "string";
  }

  // allOf: the branches' properties and required lists unioned; other keywords
  // from the first branch that has them.
  Json merge_all_of(JsonView s, int depth) {
    Json merged = Json::copy_of(s);
    merged.erase("allOf");
    Json props = Json::copy_of(s["properties"].is_object() ? s["properties"] : Json::object().view());
    Json required = Json::copy_of(s["required"].is_array() ? s["required"] : Json::array().view());
    s["allOf"].for_each([&](std::string_view, JsonView branch) {
      for (int hops = 0; branch["$ref"].is_string() && hops < kMaxDepth - depth; ++hops) {
        branch = resolve_local_ref(root_, branch["$ref"].as_string());
      }
      branch.for_each([&](std::string_view key, JsonView v) {
        if (key == "properties") {
          v.for_each([&](std::string_view name, JsonView p) { props.set(name, Json::copy_of(p)); });
        } else if (key == "required") {
          v.for_each([&](std::string_view, JsonView name) { required.push(Json::copy_of(name)); });
        } else if (!merged[key].present()) {
          merged.set(key, Json::copy_of(v));
        }
      });
    });
    if (props.view().size() > 0) merged.set("properties", std::move(props));
    if (required.view().size() > 0) merged.set("required", std::move(required));
    return merged;
  }

  Json object(JsonView s, std::string_view text, int depth) {
    Json out = Json::object();
    JsonView props = s["properties"];
    JsonView extra = s["additionalProperties"];
    auto add = [&](std::string_view name) {
      if (out[name].present()) return;
      JsonView sub = props[name];
      if (!sub.present() && extra.is_object()) sub = extra;
      out.set(name, value(sub, text, depth + 1));
    };
    s["required"].for_each([&](std::string_view, JsonView name) {
      if (name.is_string()) add(name.as_string());
    });
    props.for_each([&](std::string_view name, JsonView) { add(name); });
    return out;
  }

  Json array(JsonView s, std::string_view text, int depth) {
    JsonView items = s["items"];
    JsonView extra = s["additionalItems"];
    std::size_t n = 1;
    if (JsonView m = s["minItems"]; m.is_integer() && m.as_number() > 1) n = m.as_int(0, kMaxExampleItems);
    if (items.is_array()) n = std::max(n, items.size());
    if (JsonView m = s["maxItems"]; m.is_integer() && m.as_number() >= 0) {
      n = std::min<std::size_t>(n, m.as_int(0, kMaxExampleItems));
    }
    if (items.is_array() && extra.is_bool() && !extra.as_bool()) n = std::min(n, items.size());
    bool unique = s["uniqueItems"].as_bool();
    Json out = Json::array();
    for (std::size_t i = 0; i < n; ++i) {
      // Distinct texts keep uniqueItems arrays of strings valid.
      std::string item_text = unique && i > 0 ? std::string(text) + " " + std::to_string(i + 1) : std::string(text);
      JsonView sub = items.is_array() ? (i < items.size() ? items.at(i) : extra) : items;
      if (i == 0 && !items.present() && s["contains"].present()) sub = s["contains"];
      out.push(sub.present() ? value(sub, item_text, depth + 1) : Json::string(item_text));
    }
    return out;
  }

  static std::string string(JsonView s, std::string_view text) {
    std::size_t min = 0, max = std::numeric_limits<std::size_t>::max();
    if (JsonView m = s["minLength"]; m.is_integer() && m.as_number() > 0) min = m.as_int(0, kMaxExampleLength);
    if (JsonView m = s["maxLength"]; m.is_integer() && m.as_number() >= 0) max = m.as_int(0, INT32_MAX);
    auto fit = [&](std::string_view t) {
      std::string out = utf8_truncate(t, max);
      // Repeating the last character keeps candidates like "a" matching
      // patterns such as "^[a-z]+$".
      std::size_t last = out.size();
      while (last > 0 && (static_cast<unsigned char>(out[last - 1]) & 0xC0) == 0x80) --last;
      std::string pad = last > 0 ? out.substr(last - 1) : "x";
      for (std::size_t len = utf8_length_lenient(out); len < min && len < max; ++len) out += pad;
      return out;
    };
    std::string base = fit(text);
    JsonView pattern = s["pattern"];
    if (!pattern.is_string()) return base;
    std::string re(pattern.as_string());
    for (std::string_view candidate : {std::string_view(base), std::string_view("a"), std::string_view("abc"),
                                       std::string_view("text"), std::string_view("A"), std::string_view("0"),
                                       std::string_view("1"), std::string_view("a1"), std::string_view("x-1")}) {
      std::string fitted = fit(candidate);
      if (search_pattern(re, fitted) == PatternMatch::kMatch) return fitted;
    }
    return base;
  }

  // Integer bounds (exclusive ones tightened to the next integer inside).
  static std::pair<double, double> integer_bounds(JsonView s) {
    double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
    if (JsonView m = s["minimum"]; m.is_number()) lo = std::ceil(m.as_number());
    if (JsonView m = s["maximum"]; m.is_number()) hi = std::floor(m.as_number());
    if (JsonView m = s["exclusiveMinimum"]; m.is_number()) lo = std::max(lo, std::floor(m.as_number()) + 1);
    if (JsonView m = s["exclusiveMaximum"]; m.is_number()) hi = std::min(hi, std::ceil(m.as_number()) - 1);
    return {lo, hi};
  }

  static double integer(JsonView s) {
    auto [lo, hi] = integer_bounds(s);
    double v = 0;
    if (std::isfinite(lo) && std::isfinite(hi)) {
      v = std::floor(lo + (hi - lo) / 2);
    } else if (std::isfinite(lo)) {
      v = std::max(lo, 0.0);
    } else if (std::isfinite(hi)) {
      v = std::min(hi, 0.0);
    }
    JsonView m = s["multipleOf"];
    if (!m.is_number() || m.as_number() <= 0) return v;
    double step = m.as_number();
    // Nearest integral multiple inside the bounds, searching outwards from v.
    double k0 = std::round(v / step);
    for (int d = 0; d < 1000; ++d) {
      for (double k : {k0 + d, k0 - d}) {
        double c = k * step;
        if (c >= lo && c <= hi && std::floor(c) == c) return c;
      }
    }
    return v;
  }

  static double number(JsonView s) {
    double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
    bool lo_open = false, hi_open = false;
    if (JsonView m = s["minimum"]; m.is_number()) lo = m.as_number();
    if (JsonView m = s["maximum"]; m.is_number()) hi = m.as_number();
    if (JsonView m = s["exclusiveMinimum"]; m.is_number() && m.as_number() >= lo) lo = m.as_number(), lo_open = true;
    if (JsonView m = s["exclusiveMaximum"]; m.is_number() && m.as_number() <= hi) hi = m.as_number(), hi_open = true;
    double v = 0;
    if (std::isfinite(lo) && std::isfinite(hi)) {
      v = lo + (hi - lo) / 2;
    } else if (std::isfinite(lo)) {
      v = lo_open ? lo + 1 : std::max(lo, 0.0);
    } else if (std::isfinite(hi)) {
      v = hi_open ? hi - 1 : std::min(hi, 0.0);
    }
    JsonView m = s["multipleOf"];
    if (!m.is_number() || m.as_number() <= 0) return v;
    double step = m.as_number();
    for (double k : {std::round(v / step), std::ceil(v / step), std::floor(v / step)}) {
      double c = k * step;
      if ((lo_open ? c > lo : c >= lo) && (hi_open ? c < hi : c <= hi)) return c;
    }
    return v;
  }

  JsonView root_;
};

}  // namespace

Json example_for_schema(JsonView schema, std::string_view text) { return Generator(schema).value(schema, text, 0); }

}  // namespace genkit
