// fake_llm: schema walker producing a deterministic, schema-valid value.
#include "tests/fakes/schema_fake.h"

#include <cmath>
#include <string>
#include <string_view>

#include "tests/fakes/fake_json.h"

namespace fake {
namespace {

constexpr int kMaxDepth = 32;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  return out;
}

// Resolves a local "#/..." JSON pointer against the root schema.
const cJSON* resolve_ref(const cJSON* root, std::string_view ref) {
  if (ref.empty() || ref[0] != '#') return nullptr;
  ref.remove_prefix(1);
  const cJSON* node = root;
  while (!ref.empty() && node != nullptr) {
    if (ref[0] != '/') return nullptr;
    ref.remove_prefix(1);
    size_t end = ref.find('/');
    std::string tok(ref.substr(0, end));
    ref = end == std::string_view::npos ? std::string_view() : ref.substr(end);
    std::string key;
    for (size_t i = 0; i < tok.size(); ++i) {
      if (tok[i] == '~' && i + 1 < tok.size()) {
        key += tok[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        key += tok[i];
      }
    }
    node = member(node, key.c_str());
  }
  return node;
}

// The schema's type in lower case: the first non-"null" entry of a type array.
std::string type_of(const cJSON* schema) {
  const cJSON* t = member(schema, "type");
  if (cJSON_IsString(t)) return lower(str_of(t));
  if (cJSON_IsArray(t)) {
    std::string first;
    const cJSON* e = nullptr;
    cJSON_ArrayForEach(e, t) {
      std::string s = lower(str_of(e));
      if (first.empty()) first = s;
      if (s != "null") return s;
    }
    return first;
  }
  if (member(schema, "properties") != nullptr) return "object";
  if (member(schema, "items") != nullptr) return "array";
  return "";
}

cJSON* fake_string(const cJSON* schema) {
  std::string fmt = lower(str_of(member(schema, "format")));
  std::string s = "fake";
  if (fmt == "date-time") s = "2024-01-01T00:00:00Z";
  else if (fmt == "date") s = "2024-01-01";
  else if (fmt == "time") s = "00:00:00";
  else if (fmt == "email") s = "fake@example.com";
  else if (fmt == "uri" || fmt == "url") s = "https://example.com/fake";
  else if (fmt == "uuid") s = "00000000-0000-4000-8000-000000000000";
  double min_len = num_of(member(schema, "minLength"), 0);
  double max_len = num_of(member(schema, "maxLength"), -1);
  while (static_cast<double>(s.size()) < min_len) s += 'x';
  if (max_len >= 0 && static_cast<double>(s.size()) > max_len) s.resize(static_cast<size_t>(max_len));
  return cJSON_CreateString(s.c_str());
}

cJSON* fake_number(const cJSON* schema, bool integer) {
  const cJSON* min = member(schema, "minimum");
  const cJSON* max = member(schema, "maximum");
  const cJSON* xmin = member(schema, "exclusiveMinimum");
  const cJSON* xmax = member(schema, "exclusiveMaximum");
  double v = 1;
  bool has_min = min != nullptr || (xmin != nullptr && !cJSON_IsBool(xmin));
  if (min != nullptr) {
    v = num_of(min, 1);
    if (cJSON_IsTrue(xmin)) v += integer ? 1 : 0.5;  // draft-4 boolean form
  } else if (xmin != nullptr && !cJSON_IsBool(xmin)) {
    double lo = num_of(xmin, 0);
    v = integer ? std::floor(lo) + 1 : lo + 0.5;
  }
  if (integer) v = std::ceil(v);
  double hi = 0;
  bool has_hi = false;
  if (max != nullptr) {
    hi = num_of(max, 0);
    has_hi = true;
    if (cJSON_IsTrue(xmax)) hi -= integer ? 1 : 0.25;
  } else if (xmax != nullptr && !cJSON_IsBool(xmax)) {
    hi = num_of(xmax, 0) - (integer ? 1 : 0.25);
    has_hi = true;
  }
  if (has_hi && v > hi) v = integer ? std::floor(hi) : hi;
  if (!has_min && has_hi && integer) v = std::floor(v);
  return cJSON_CreateNumber(v);
}

cJSON* walk(const cJSON* schema, const cJSON* root, int depth) {
  if (depth > kMaxDepth || !cJSON_IsObject(schema)) return cJSON_CreateString("fake");
  if (const cJSON* ref = member(schema, "$ref"); cJSON_IsString(ref)) {
    const cJSON* target = resolve_ref(root, str_of(ref));
    return target != nullptr ? walk(target, root, depth + 1) : cJSON_CreateString("fake");
  }
  if (const cJSON* c = member(schema, "const"); c != nullptr) return cJSON_Duplicate(c, true);
  if (const cJSON* e = member(schema, "enum"); cJSON_IsArray(e) && cJSON_GetArraySize(e) > 0) {
    return cJSON_Duplicate(cJSON_GetArrayItem(e, 0), true);
  }
  for (const char* key : {"anyOf", "oneOf", "allOf"}) {
    const cJSON* alts = member(schema, key);
    if (!cJSON_IsArray(alts) || cJSON_GetArraySize(alts) == 0) continue;
    const cJSON* pick = cJSON_GetArrayItem(alts, 0);
    const cJSON* a = nullptr;
    cJSON_ArrayForEach(a, alts) {  // prefer a non-null alternative
      if (type_of(a) != "null") { pick = a; break; }
    }
    return walk(pick, root, depth + 1);
  }
  std::string type = type_of(schema);
  if (type == "object") {
    cJSON* obj = cJSON_CreateObject();
    const cJSON* prop = nullptr;
    cJSON_ArrayForEach(prop, member(schema, "properties")) {
      if (prop->string != nullptr) cJSON_AddItemToObject(obj, prop->string, walk(prop, root, depth + 1));
    }
    return obj;
  }
  if (type == "array") {
    cJSON* arr = cJSON_CreateArray();
    double n = num_of(member(schema, "minItems"), 1);
    if (n < 1) n = 1;
    double max_items = num_of(member(schema, "maxItems"), -1);
    if (max_items >= 0 && n > max_items) n = max_items;
    if (n > 100) n = 100;
    const cJSON* items = member(schema, "items");
    for (int i = 0; i < static_cast<int>(n); ++i) cJSON_AddItemToArray(arr, walk(items, root, depth + 1));
    return arr;
  }
  if (type == "string") return fake_string(schema);
  if (type == "integer") return fake_number(schema, true);
  if (type == "number") return fake_number(schema, false);
  if (type == "boolean") return cJSON_CreateTrue();
  if (type == "null") return cJSON_CreateNull();
  return cJSON_CreateString("fake");
}

}  // namespace

cJSON* fake_value_for_schema(const cJSON* schema) { return walk(schema, schema, 0); }

}  // namespace fake
