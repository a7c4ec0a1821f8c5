#include "common/prompt/picoschema.h"
#include "common/text.h"

#include <string>
#include <string_view>

namespace genkit {
namespace {

constexpr int kMaxDepth = 64;

bool is_scalar_type(std::string_view t) {
  return t == "string" || t == "number" || t == "integer" || t == "boolean" || t == "null" ||
         t == "any";
}

// "type, description" -> {type, description}; the description may hold commas.
std::pair<std::string_view, std::string_view> split_description(std::string_view s) {
  std::size_t comma = s.find(',');
  if (comma == std::string_view::npos) return {trim_blanks(s), {}};
  return {trim_blanks(s.substr(0, comma)), trim_blanks(s.substr(comma + 1))};
}

std::string field_name(const std::string& path) { return path.empty() ? "(root)" : path; }

Result<Json> convert(JsonView value, const std::string& path, int depth);

Result<Json> scalar_schema(std::string_view text, const std::string& path) {
  auto [type, description] = split_description(text);
  if (!is_scalar_type(type)) {
    return invalid_argument("picoschema: field '" + field_name(path) + "' has unknown type '" +
                            std::string(type) + "'");
  }
  Json out = Json::object();
  if (type != "any") out.set("type", Json::string(type));
  if (!description.empty()) out.set("description", Json::string(description));
  return out;
}

// Genkit makes optional fields nullable by widening a single type to [type, "null"].
void make_nullable(Json& schema) {
  JsonView type = schema["type"];
  if (!type.is_string() || type.as_string() == "null") return;
  Json both = Json::array();
  both.push(Json::string(type.as_string())).push(Json::string("null"));
  schema.set("type", std::move(both));
}

Result<Json> object_schema(JsonView obj, const std::string& path, int depth) {
  if (depth >= kMaxDepth) {
    return invalid_argument("picoschema: field '" + field_name(path) + "' is nested too deeply");
  }
  Json properties = Json::object();
  Json required = Json::array();
  Json additional = Json::boolean(false);
  Status error;
  obj.for_each([&](std::string_view raw_key, JsonView child) {
    if (!error.is_ok()) return;
    std::string child_path = path.empty() ? std::string(raw_key) : path + "." + std::string(raw_key);
    if (trim_blanks(raw_key) == "(*)") {
      Result<Json> extra = convert(child, child_path, depth + 1);
      if (!extra.ok()) error = extra.status();
      else additional = std::move(extra).value();
      return;
    }
    std::string_view name = trim_blanks(raw_key);
    std::string_view type_info;
    bool has_type_info = false;
    if (std::size_t open = name.find('('); open != std::string_view::npos) {
      if (name.back() != ')') {
        error = invalid_argument("picoschema: field '" + child_path + "' is missing ')'");
        return;
      }
      type_info = name.substr(open + 1, name.size() - open - 2);
      name = trim_blanks(name.substr(0, open));
      has_type_info = true;
    }
    bool optional = !name.empty() && name.back() == '?';
    if (optional) name.remove_suffix(1);
    if (name.empty()) {
      error = invalid_argument("picoschema: field '" + child_path + "' has an empty name");
      return;
    }
    Json prop;
    if (!has_type_info) {
      Result<Json> converted = convert(child, child_path, depth + 1);
      if (!converted.ok()) {
        error = converted.status();
        return;
      }
      prop = std::move(converted).value();
      if (optional) make_nullable(prop);
    } else {
      auto [type, description] = split_description(type_info);
      if (type == "array") {
        Result<Json> items = convert(child, child_path, depth + 1);
        if (!items.ok()) {
          error = items.status();
          return;
        }
        prop = Json::object();
        prop.set("type", Json::string("array"));
        if (optional) make_nullable(prop);
        prop.set("items", std::move(items).value());
      } else if (type == "object") {
        if (!child.is_object()) {
          error = invalid_argument("picoschema: field '" + child_path + "' (object) needs a mapping");
          return;
        }
        Result<Json> nested = object_schema(child, child_path, depth + 1);
        if (!nested.ok()) {
          error = nested.status();
          return;
        }
        prop = std::move(nested).value();
        if (optional) make_nullable(prop);
      } else if (type == "enum") {
        if (!child.is_array()) {
          error = invalid_argument("picoschema: field '" + child_path + "' (enum) needs a list of values");
          return;
        }
        Json values = Json::copy_of(child);
        bool has_null = false;
        child.for_each([&](std::string_view, JsonView v) { has_null = has_null || v.is_null(); });
        if (optional && !has_null) values.push(Json::null());
        prop = Json::object();
        prop.set("enum", std::move(values));
      } else {
        error = invalid_argument("picoschema: field '" + child_path + "' has unknown parenthetical type '" +
                                 std::string(type) + "' (expected array, object or enum)");
        return;
      }
      if (!description.empty()) prop.set("description", Json::string(description));
    }
    properties.set(name, std::move(prop));
    if (!optional) required.push(Json::string(name));
  });
  if (!error.is_ok()) return error;
  Json out = Json::object();
  out.set("type", Json::string("object"));
  out.set("properties", std::move(properties));
  if (required.view().size() > 0) out.set("required", std::move(required));
  out.set("additionalProperties", std::move(additional));
  return out;
}

Result<Json> convert(JsonView value, const std::string& path, int depth) {
  if (value.is_string()) return scalar_schema(value.as_string(), path);
  if (value.is_object()) return object_schema(value, path, depth);
  // YAML reads an unquoted `null` (or nothing) as a null value, not a type name.
  std::string hint = value.is_null() ? " (write \"null\" quoted for the null type)" : "";
  return invalid_argument("picoschema: field '" + field_name(path) +
                          "' must be a type string or a mapping, got " + value.dump() + hint);
}

bool is_json_schema(JsonView v) {
  JsonView type = v["type"];
  if (type.is_array()) return true;
  if (type.is_string()) {
    std::string_view t = type.as_string();
    return is_scalar_type(t) || t == "object" || t == "array";
  }
  return v["properties"].is_object() || v["$schema"].is_string();
}

}  // namespace

Result<Json> picoschema_to_json_schema(JsonView pico) {
  if (!pico.present() || pico.is_null()) return Json::null();
  if (pico.is_object() && is_json_schema(pico)) {
    Json out = Json::copy_of(pico);
    if (!pico["type"].present() && pico["properties"].is_object()) {
      out.set("type", Json::string("object"));
    }
    return out;
  }
  return convert(pico, "", 0);
}

}  // namespace genkit
