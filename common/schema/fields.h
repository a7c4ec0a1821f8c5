// Builds an ObjectSchema that reads like the pydantic model it mirrors:
//
//   const ObjectSchema& s = object_schema("JokeInput", {
//       Field("name").desc("Subject of the joke").def("Mittens").max_len(200),
//       Field("username").nullable().def_null().max_len(200)});
//
// A field is a string unless given a type: Field("words", Field::Type::kInteger).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "common/schema/schema.h"

namespace genkit {

class Field {
 public:
  using Type = FieldSpec::Type;

  explicit Field(const char* name, Type type = Type::kString) {
    spec_.name = name;
    spec_.type = type;
  }
  Field& desc(const char* d) { return spec_.description = d, *this; }
  Field& required() { return spec_.required = true, *this; }
  Field& nullable() { return spec_.nullable = true, *this; }
  Field& def(const char* s) { return spec_.default_value = Json::string(s), *this; }
  Field& def_null() { return spec_.default_value = Json::null(), *this; }
  Field& min_len(int64_t n) { return spec_.min_length = n, *this; }
  Field& max_len(int64_t n) { return spec_.max_length = n, *this; }
  Field& range(double lo, double hi) { return spec_.minimum = lo, spec_.maximum = hi, *this; }
  Field& pattern(const char* p) { return spec_.pattern = p, *this; }
  Field& object(const ObjectSchema& o) { return spec_.object = &o, *this; }
  operator FieldSpec() const { return spec_; }  // NOLINT: the builder converts implicitly

 private:
  FieldSpec spec_;
};

inline ObjectSchema object_schema(const char* name, std::vector<FieldSpec> fields) {
  ObjectSchema s;
  s.name = name;
  s.fields = std::move(fields);
  return s;
}

}  // namespace genkit
