// A small RAII layer over cJSON: Json owns a tree, JsonView reads one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

struct cJSON;

namespace genkit {

// Non-owning, read-only view of a cJSON node. A default (or missing) view is
// "absent": every accessor is safe on it and returns an empty value.
class JsonView {
 public:
  JsonView() = default;
  explicit JsonView(const cJSON* node) : node_(node) {}

  bool present() const { return node_ != nullptr; }
  bool is_null() const;
  bool is_bool() const;
  bool is_number() const;
  bool is_integer() const;  // a number with no fractional part
  bool is_string() const;
  bool is_array() const;
  bool is_object() const;

  std::string_view as_string() const;  // "" unless a string
  double as_number() const;            // 0 unless a number
  // The number truncated to an integer and saturated to [lo, hi] (lo when
  // it is not a number): a double out of an integer's range is undefined
  // behaviour to cast, and outside JSON says 1e300 as easily as 3.
  int64_t as_int(int64_t lo, int64_t hi) const;
  bool as_bool() const;                // false unless true

  JsonView operator[](std::string_view key) const;  // object member; absent if missing
  JsonView at(std::size_t index) const;              // array element; absent if out of range
  std::size_t size() const;                          // members of an array or object

  // Calls fn(std::string_view key, JsonView child) for each member/element
  // (key is "" for array elements).
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (JsonView c = first_child(); c.present(); c = c.next_sibling()) fn(c.key(), c);
  }

  std::string dump() const;  // compact JSON text; "null" when absent
  const cJSON* raw() const { return node_; }

 private:
  JsonView first_child() const;
  JsonView next_sibling() const;
  std::string_view key() const;

  const cJSON* node_ = nullptr;
};

// Owning JSON value. Copy is deep; move is cheap.
class Json {
 public:
  Json();  // null (allocates nothing)
  ~Json();
  Json(const Json& other);
  Json(Json&& other) noexcept;
  Json& operator=(const Json& other);
  Json& operator=(Json&& other) noexcept;

  static Json null();
  static Json object();
  static Json array();
  static Json string(std::string_view s);
  static Json number(double n);
  static Json boolean(bool b);
  static Json copy_of(JsonView v);
  // Parses exactly one JSON document (surrounding whitespace allowed).
  static Result<Json> parse(std::string_view text);

  JsonView view() const { return JsonView(node_ ? node_ : shared_null()); }
  operator JsonView() const { return view(); }  // NOLINT: a Json reads like a view
  JsonView operator[](std::string_view key) const { return view()[key]; }

  // Object: add or replace member `key`. Array: append. Return *this to chain.
  Json& set(std::string_view key, Json value);
  Json& push(Json value);
  // Object: remove member `key` if present.
  void erase(std::string_view key);

  std::string dump() const { return view().dump(); }

 private:
  explicit Json(cJSON* node) : node_(node) {}
  cJSON* release();
  static const cJSON* shared_null();

  cJSON* node_;  // nullptr stands for JSON null
};

// JSON string literal (with quotes) for `s`, for hand-built fast paths.
std::string json_quote(std::string_view s);
void append_json_quoted(std::string& out, std::string_view s);

// Compact JSON with every object's members sorted by key: equal documents
// give equal text whatever order their members came in (cache keys).
std::string canonical_dump(JsonView v);

}  // namespace genkit
