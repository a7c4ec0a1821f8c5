#include "common/schema/schema.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/schema/regex_cache.h"
#include "common/schema/utf8.h"

namespace genkit {

namespace {

// "100" rather than "100.000000": bounds appear in user-facing messages.
std::string format_number(double d) {
  if (std::isfinite(d) && std::floor(d) == d && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<long long>(d));
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", d);
  if (std::strtod(buf, nullptr) != d) std::snprintf(buf, sizeof buf, "%.17g", d);
  return buf;
}

std::string plural(int64_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

class Checker {
 public:
  explicit Checker(std::vector<FieldError>* errors) : errors_(errors) {}

  // Fills `out` with the known members of `input`, in declaration order.
  void object(const ObjectSchema& schema, JsonView input, const std::string& prefix, Json& out) {
    for (const FieldSpec& f : schema.fields) {
      std::string path = prefix + f.name;
      JsonView v = input[f.name];
      if (!v.present()) {
        if (f.default_value) {
          out.set(f.name, *f.default_value);
        } else if (f.required) {
          fail(path, "Field required");
        }
        continue;
      }
      if (v.is_null()) {
        if (f.nullable) {
          out.set(f.name, Json::null());
        } else {
          fail(path, type_message(f.type));
        }
        continue;
      }
      field(f, v, path, out);
    }
  }

 private:
  static const char* type_message(FieldSpec::Type type) {
    switch (type) {
      case FieldSpec::Type::kString: return "Input should be a valid string";
      case FieldSpec::Type::kInteger: return "Input should be a valid integer";
      case FieldSpec::Type::kNumber: return "Input should be a valid number";
      case FieldSpec::Type::kBoolean: return "Input should be a valid boolean";
      case FieldSpec::Type::kStringArray: return "Input should be a valid list";
      case FieldSpec::Type::kObject: return "Input should be a valid dictionary or object";
    }
    return "Input is invalid";
  }

  void fail(const std::string& path, std::string message) { errors_->push_back({path, std::move(message)}); }

  void field(const FieldSpec& f, JsonView v, const std::string& path, Json& out) {
    switch (f.type) {
      case FieldSpec::Type::kString:
        if (string_ok(f, v, path)) out.set(f.name, Json::copy_of(v));
        return;
      case FieldSpec::Type::kInteger:
      case FieldSpec::Type::kNumber:
        if (number_ok(f, v, path)) out.set(f.name, Json::number(v.as_number()));
        return;
      case FieldSpec::Type::kBoolean:
        if (!v.is_bool()) return fail(path, type_message(f.type));
        out.set(f.name, Json::boolean(v.as_bool()));
        return;
      case FieldSpec::Type::kStringArray:
        if (array_ok(f, v, path)) out.set(f.name, Json::copy_of(v));
        return;
      case FieldSpec::Type::kObject: {
        if (!v.is_object()) return fail(path, type_message(f.type));
        if (!f.object) return fail(path, "field has no object schema");
        Json nested = Json::object();
        std::size_t before = errors_->size();
        object(*f.object, v, path + ".", nested);
        if (errors_->size() == before) out.set(f.name, std::move(nested));
        return;
      }
    }
  }

  // pydantic's string validator stops at the first failing constraint, so a
  // field yields at most one message.
  bool string_ok(const FieldSpec& f, JsonView v, const std::string& path) {
    if (!v.is_string()) return fail(path, type_message(f.type)), false;
    std::optional<std::size_t> len = utf8_length(v.as_string());
    if (!len) return fail(path, type_message(f.type)), false;
    auto n = static_cast<int64_t>(*len);
    if (f.min_length && n < *f.min_length) {
      return fail(path, "String should have at least " + plural(*f.min_length, "character")), false;
    }
    if (f.max_length && n > *f.max_length) {
      return fail(path, "String should have at most " + plural(*f.max_length, "character")), false;
    }
    if (f.pattern) {
      switch (search_pattern(*f.pattern, v.as_string())) {
        case PatternMatch::kMatch: break;
        case PatternMatch::kNoMatch:
          return fail(path, "String should match pattern '" + *f.pattern + "'"), false;
        case PatternMatch::kSubjectTooLong:
          return fail(path, "String is too long to check against pattern '" + *f.pattern + "'"), false;
        case PatternMatch::kInvalidPattern:
          return fail(path, "Pattern '" + *f.pattern + "' is not a supported regex"), false;
      }
    }
    return true;
  }

  bool number_ok(const FieldSpec& f, JsonView v, const std::string& path) {
    if (!v.is_number()) return fail(path, type_message(f.type)), false;
    double d = v.as_number();
    if (f.type == FieldSpec::Type::kInteger && !v.is_integer()) {
      const char* why = std::isfinite(d) ? "Input should be a valid integer, got a number with a fractional part"
                                         : "Input should be a finite number";
      return fail(path, why), false;
    }
    if (f.minimum && d < *f.minimum) {
      return fail(path, "Input should be greater than or equal to " + format_number(*f.minimum)), false;
    }
    if (f.maximum && d > *f.maximum) {
      return fail(path, "Input should be less than or equal to " + format_number(*f.maximum)), false;
    }
    return true;
  }

  bool array_ok(const FieldSpec& f, JsonView v, const std::string& path) {
    if (!v.is_array()) return fail(path, type_message(f.type)), false;
    std::size_t before = errors_->size();
    std::size_t index = 0;
    v.for_each([&](std::string_view, JsonView item) {
      if (!item.is_string() || !utf8_length(item.as_string())) {
        fail(path + "." + std::to_string(index), "Input should be a valid string");
      }
      ++index;
    });
    auto n = static_cast<int64_t>(index);
    if (f.min_length && n < *f.min_length) {
      fail(path, "List should have at least " + plural(*f.min_length, "item") + " after validation, not " +
                     std::to_string(n));
    }
    if (f.max_length && n > *f.max_length) {
      fail(path, "List should have at most " + plural(*f.max_length, "item") + " after validation, not " +
                     std::to_string(n));
    }
    return errors_->size() == before;
  }

  std::vector<FieldError>* errors_;
};

std::string joined(const std::vector<FieldError>& errors) {
  std::string out;
  for (const FieldError& e : errors) {
    if (!out.empty()) out += "; ";
    out += e.path + ": " + e.message;
  }
  return out;
}

Json string_list(const std::vector<std::string>& items) {
  Json a = Json::array();
  for (const std::string& s : items) a.push(Json::string(s));
  return a;
}

Json object_schema_body(const ObjectSchema& schema, const std::string& description);

Json field_schema(const FieldSpec& f) {
  if (f.type == FieldSpec::Type::kObject && f.object) {
    Json s = object_schema_body(*f.object, f.description);
    if (f.nullable) s.set("type", Json::array().push(Json::string("object")).push(Json::string("null")));
    return s;
  }
  static constexpr const char* kTypeNames[] = {"string", "integer", "number", "boolean", "array", "object"};
  const char* type = kTypeNames[static_cast<int>(f.type)];
  Json s = Json::object();
  if (f.nullable) {
    s.set("type", Json::array().push(Json::string(type)).push(Json::string("null")));
  } else {
    s.set("type", Json::string(type));
  }
  bool is_array = f.type == FieldSpec::Type::kStringArray;
  if (is_array) s.set("items", Json::object().set("type", Json::string("string")));
  if (!f.description.empty()) s.set("description", Json::string(f.description));
  if (f.min_length) s.set(is_array ? "minItems" : "minLength", Json::number(static_cast<double>(*f.min_length)));
  if (f.max_length) s.set(is_array ? "maxItems" : "maxLength", Json::number(static_cast<double>(*f.max_length)));
  if (f.pattern) s.set("pattern", Json::string(*f.pattern));
  if (f.minimum) s.set("minimum", Json::number(*f.minimum));
  if (f.maximum) s.set("maximum", Json::number(*f.maximum));
  if (f.default_value) s.set("default", *f.default_value);
  return s;
}

// Nested models are inlined (no $ref) so consumers need no resolver.
Json object_schema_body(const ObjectSchema& schema, const std::string& description) {
  Json s = Json::object();
  s.set("type", Json::string("object"));
  s.set("title", Json::string(schema.name));
  if (!description.empty()) s.set("description", Json::string(description));
  Json props = Json::object();
  std::vector<std::string> required;
  for (const FieldSpec& f : schema.fields) {
    props.set(f.name, field_schema(f));
    if (f.required) required.push_back(f.name);
  }
  s.set("properties", std::move(props));
  s.set("required", string_list(required));
  s.set("additionalProperties", Json::boolean(true));
  return s;
}

}  // namespace

Result<Json> ObjectSchema::validate(JsonView input, std::vector<FieldError>* errors) const {
  std::vector<FieldError> found;
  if (!input.is_object()) {
    found.push_back({"body", "Input should be a valid dictionary or object"});
  } else {
    Json out = Json::object();
    Checker(&found).object(*this, input, "", out);
    if (found.empty()) return out;
  }
  std::string message = joined(found);
  if (errors) *errors = std::move(found);
  return invalid_argument(std::move(message));
}

Json ObjectSchema::json_schema() const {
  Json body = object_schema_body(*this, description);
  Json s = Json::object();
  s.set("$schema", Json::string("http://json-schema.org/draft-07/schema#"));
  body.view().for_each([&](std::string_view key, JsonView v) { s.set(key, Json::copy_of(v)); });
  return s;
}

}  // namespace genkit
