// fake_llm: tiny helpers over cJSON (ownership, printing, lookups).
#pragma once

#include <cjson/cJSON.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace fake {

struct CJsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};
using JsonPtr = std::unique_ptr<cJSON, CJsonDeleter>;

inline JsonPtr parse_json(std::string_view text) {
  return JsonPtr(cJSON_ParseWithLength(text.data(), text.size()));
}

// Compact JSON text of `j` ("null" for nullptr).
inline std::string print_json(const cJSON* j) {
  if (j == nullptr) return "null";
  char* s = cJSON_PrintUnformatted(j);
  if (s == nullptr) return "null";
  std::string out(s);
  cJSON_free(s);
  return out;
}

// Object member (case-sensitive); nullptr when absent or `obj` is not an object.
inline const cJSON* member(const cJSON* obj, const char* key) {
  if (obj == nullptr || !cJSON_IsObject(obj)) return nullptr;
  return cJSON_GetObjectItemCaseSensitive(obj, key);
}

inline std::string_view str_of(const cJSON* j) {
  return (j != nullptr && cJSON_IsString(j) && j->valuestring != nullptr)
             ? std::string_view(j->valuestring)
             : std::string_view();
}

// Adds a string member built from a string_view (cJSON wants NUL-terminated).
inline cJSON* add_str(cJSON* obj, const char* key, std::string_view v) {
  return cJSON_AddStringToObject(obj, key, std::string(v).c_str());
}

// A JSON number that may arrive as a string (proto-JSON int64), or `dflt`.
inline double num_of(const cJSON* j, double dflt) {
  if (j == nullptr) return dflt;
  if (cJSON_IsNumber(j)) return j->valuedouble;
  if (cJSON_IsString(j) && j->valuestring != nullptr && *j->valuestring != '\0') {
    char* end = nullptr;
    double d = std::strtod(j->valuestring, &end);
    if (end != nullptr && *end == '\0') return d;
  }
  return dflt;
}

}  // namespace fake
