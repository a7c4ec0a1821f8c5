// The type-specific keyword families of the JSON Schema validator. Each
// applies only to instances of its type, as draft-07 requires.
#include <cmath>
#include <vector>

#include "common/schema/json_schema_validator.h"
#include "common/schema/json_schema_walker.h"
#include "common/schema/utf8.h"

namespace genkit::schema_internal {

namespace {

// Binary floating point makes 0.0075 / 0.0001 come out as 75.00000000000001.
bool is_multiple_of(double value, double divisor) {
  double q = value / divisor;
  if (!std::isfinite(q)) return false;
  return std::fabs(q - std::round(q)) <= 1e-9 * std::fmax(1.0, std::fabs(q));
}

// A non-negative integer keyword value ("minLength": 2), or -1 when absent/malformed.
double count_keyword(JsonView s, std::string_view key) {
  JsonView v = s[key];
  return v.is_integer() && v.as_number() >= 0 ? v.as_number() : -1;
}

}  // namespace

bool Walker::check_numeric(JsonView s, JsonView inst, const std::string& path) {
  if (!inst.is_number()) return true;
  double v = inst.as_number();
  std::string shown = render(inst);
  bool ok = true;
  if (JsonView m = s["minimum"]; m.is_number() && v < m.as_number()) {
    ok = fail(path, shown + " is less than the minimum of " + render(m));
  }
  if (JsonView m = s["maximum"]; m.is_number() && v > m.as_number()) {
    ok = fail(path, shown + " is greater than the maximum of " + render(m));
  }
  if (JsonView m = s["exclusiveMinimum"]; m.is_number() && v <= m.as_number()) {
    ok = fail(path, shown + " is less than or equal to the minimum of " + render(m));
  }
  if (JsonView m = s["exclusiveMaximum"]; m.is_number() && v >= m.as_number()) {
    ok = fail(path, shown + " is greater than or equal to the maximum of " + render(m));
  }
  if (JsonView m = s["multipleOf"]; m.is_number() && m.as_number() > 0 && !is_multiple_of(v, m.as_number())) {
    ok = fail(path, shown + " is not a multiple of " + render(m));
  }
  return ok;
}

bool Walker::check_string(JsonView s, JsonView inst, const std::string& path) {
  if (!inst.is_string()) return true;
  bool ok = true;
  double min = count_keyword(s, "minLength"), max = count_keyword(s, "maxLength");
  if (min >= 0 || max >= 0) {
    auto len = static_cast<double>(utf8_length_lenient(inst.as_string()));
    if (min >= 0 && len < min) ok = fail(path, render(inst) + " is too short (minLength " + render(s["minLength"]) + ")");
    if (max >= 0 && len > max) ok = fail(path, render(inst) + " is too long (maxLength " + render(s["maxLength"]) + ")");
  }
  if (JsonView p = s["pattern"]; p.is_string()) {
    std::string pattern(p.as_string());
    bool pattern_ok = true;
    if (!matches(pattern, inst.as_string(), path, &pattern_ok) && pattern_ok) {
      ok = fail(path, render(inst) + " does not match " + json_quote(pattern));
    }
    ok = ok && pattern_ok;
  }
  return ok;
}

bool Walker::check_array(JsonView s, JsonView inst, const std::string& path, int depth) {
  if (!inst.is_array()) return true;
  std::vector<JsonView> items;
  inst.for_each([&](std::string_view, JsonView v) { items.push_back(v); });
  bool ok = true;
  double min = count_keyword(s, "minItems"), max = count_keyword(s, "maxItems");
  auto n = static_cast<double>(items.size());
  if (min >= 0 && n < min) ok = fail(path, "array has " + std::to_string(items.size()) + " items, fewer than minItems " + render(s["minItems"]));
  if (max >= 0 && n > max) ok = fail(path, "array has " + std::to_string(items.size()) + " items, more than maxItems " + render(s["maxItems"]));

  JsonView item_schema = s["items"];
  if (item_schema.is_array()) {
    std::vector<JsonView> tuple;
    item_schema.for_each([&](std::string_view, JsonView v) { tuple.push_back(v); });
    JsonView extra = s["additionalItems"];
    for (std::size_t i = 0; i < items.size() && !settled(ok); ++i) {
      std::string at = child_path(path, std::to_string(i));
      if (i < tuple.size()) {
        ok = check(tuple[i], items[i], at, depth + 1) && ok;
      } else if (extra.is_bool() && !extra.as_bool()) {
        ok = fail(path, "additional items are not allowed (" + std::to_string(items.size() - tuple.size()) +
                            " beyond the " + std::to_string(tuple.size()) + " in items)");
        break;
      } else if (extra.present()) {
        ok = check(extra, items[i], at, depth + 1) && ok;
      }
    }
  } else if (item_schema.present()) {
    for (std::size_t i = 0; i < items.size() && !settled(ok); ++i) {
      ok = check(item_schema, items[i], child_path(path, std::to_string(i)), depth + 1) && ok;
    }
  }
  if (settled(ok)) return false;

  if (JsonView contains = s["contains"]; contains.present()) {
    bool found = false;
    for (std::size_t i = 0; i < items.size() && !found && !aborted_; ++i) {
      found = probe(contains, items[i], child_path(path, std::to_string(i)), depth + 1);
    }
    if (aborted_) return false;
    if (!found) ok = fail(path, "none of the items of " + render(inst) + " is valid under the contains schema");
  }
  if (JsonView unique = s["uniqueItems"]; unique.as_bool()) {
    bool duplicate = false;
    for (std::size_t i = 0; i < items.size() && !duplicate; ++i) {
      for (std::size_t j = i + 1; j < items.size() && !duplicate; ++j) duplicate = json_equal(items[i], items[j]);
    }
    if (duplicate) ok = fail(path, render(inst) + " has non-unique elements");
  }
  return ok;
}

bool Walker::check_object(JsonView s, JsonView inst, const std::string& path, int depth) {
  if (!inst.is_object()) return true;
  bool ok = true;
  if (JsonView required = s["required"]; required.is_array()) {
    required.for_each([&](std::string_view, JsonView name) {
      if (name.is_string() && !inst[name.as_string()].present()) {
        ok = fail(path, json_quote(name.as_string()) + " is a required property");
      }
    });
  }
  double min = count_keyword(s, "minProperties"), max = count_keyword(s, "maxProperties");
  auto n = static_cast<double>(inst.size());
  if (min >= 0 && n < min) ok = fail(path, "object has fewer than minProperties " + render(s["minProperties"]) + " properties");
  if (max >= 0 && n > max) ok = fail(path, "object has more than maxProperties " + render(s["maxProperties"]) + " properties");
  if (settled(ok)) return false;

  ok = check_properties(s, inst, path, depth) && ok;
  if (settled(ok)) return false;

  if (JsonView names = s["propertyNames"]; names.present()) {
    inst.for_each([&](std::string_view key, JsonView) {
      if (settled(ok)) return;
      Json name = Json::string(key);
      ok = check(names, name.view(), child_path(path, key), depth + 1) && ok;
    });
  }
  if (JsonView deps = s["dependencies"]; deps.is_object()) {
    deps.for_each([&](std::string_view key, JsonView dep) {
      if (settled(ok) || !inst[key].present()) return;
      if (dep.is_array()) {
        dep.for_each([&](std::string_view, JsonView name) {
          if (name.is_string() && !inst[name.as_string()].present()) {
            ok = fail(path, json_quote(name.as_string()) + " is a dependency of " + json_quote(key));
          }
        });
      } else {
        ok = check(dep, inst, path, depth + 1) && ok;
      }
    });
  }
  return ok;
}

// properties, patternProperties and additionalProperties decide together which
// members are "additional".
bool Walker::check_properties(JsonView s, JsonView inst, const std::string& path, int depth) {
  JsonView props = s["properties"], patterns = s["patternProperties"], extra = s["additionalProperties"];
  if (!props.is_object() && !patterns.is_object() && !extra.present()) return true;
  bool ok = true;
  std::string unexpected;
  inst.for_each([&](std::string_view key, JsonView value) {
    if (settled(ok)) return;
    std::string at = child_path(path, key);
    bool known = false;
    if (JsonView sub = props[key]; sub.present()) {
      known = true;
      ok = check(sub, value, at, depth + 1) && ok;
    }
    patterns.for_each([&](std::string_view pattern, JsonView sub) {
      if (settled(ok)) return;
      bool pattern_ok = true;
      if (matches(std::string(pattern), key, at, &pattern_ok)) {
        known = true;
        ok = check(sub, value, at, depth + 1) && ok;
      }
      ok = ok && pattern_ok;
    });
    if (known || !extra.present() || aborted_) return;
    if (extra.is_bool() && !extra.as_bool()) {
      unexpected += (unexpected.empty() ? "" : ", ") + json_quote(key);
      ok = false;
    } else {
      ok = check(extra, value, at, depth + 1) && ok;
    }
  });
  if (!unexpected.empty()) fail(path, "additional properties are not allowed (" + unexpected + " unexpected)");
  return ok && !aborted_;
}

}  // namespace genkit::schema_internal
