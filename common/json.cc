#include "common/json.h"

#include <cjson/cJSON.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace genkit {

bool JsonView::is_null() const { return node_ && cJSON_IsNull(node_); }
bool JsonView::is_bool() const { return node_ && cJSON_IsBool(node_); }
bool JsonView::is_number() const { return node_ && cJSON_IsNumber(node_); }
bool JsonView::is_integer() const {
  if (!is_number()) return false;
  double d = node_->valuedouble;
  return std::isfinite(d) && std::floor(d) == d;
}
bool JsonView::is_string() const { return node_ && cJSON_IsString(node_); }
bool JsonView::is_array() const { return node_ && cJSON_IsArray(node_); }
bool JsonView::is_object() const { return node_ && cJSON_IsObject(node_); }

std::string_view JsonView::as_string() const {
  return is_string() && node_->valuestring ? std::string_view(node_->valuestring) : std::string_view();
}
double JsonView::as_number() const { return is_number() ? node_->valuedouble : 0.0; }
int64_t JsonView::as_int(int64_t lo, int64_t hi) const {
  double d = as_number();
  if (!is_number() || !(d > static_cast<double>(lo))) return lo;  // (NaN too)
  if (d >= static_cast<double>(hi)) return hi;
  return static_cast<int64_t>(d);
}
bool JsonView::as_bool() const { return node_ && cJSON_IsTrue(node_); }

JsonView JsonView::operator[](std::string_view key) const {
  if (!is_object()) return JsonView();
  for (const cJSON* c = node_->child; c; c = c->next) {
    if (c->string && key == c->string) return JsonView(c);
  }
  return JsonView();
}

JsonView JsonView::at(std::size_t index) const {
  if (!is_array()) return JsonView();
  const cJSON* c = node_->child;
  for (std::size_t i = 0; c && i < index; ++i) c = c->next;
  return JsonView(c);
}

std::size_t JsonView::size() const {
  if (!is_array() && !is_object()) return 0;
  std::size_t n = 0;
  for (const cJSON* c = node_->child; c; c = c->next) ++n;
  return n;
}

JsonView JsonView::first_child() const {
  return (is_array() || is_object()) ? JsonView(node_->child) : JsonView();
}
JsonView JsonView::next_sibling() const { return node_ ? JsonView(node_->next) : JsonView(); }
std::string_view JsonView::key() const {
  return node_ && node_->string ? std::string_view(node_->string) : std::string_view();
}

std::string JsonView::dump() const {
  if (!node_) return "null";
  char* text = cJSON_PrintUnformatted(node_);
  if (!text) return "null";
  std::string out(text);
  cJSON_free(text);
  return out;
}

// A default Json holds no node: null is the commonest value (unset schemas,
// tool data of text parts) and costs an allocation per object otherwise.
// Reads of it see one shared, never-modified null node.
const cJSON* Json::shared_null() {
  static const cJSON* const kNull = cJSON_CreateNull();
  return kNull;
}

Json::Json() : node_(nullptr) {}
Json::~Json() { cJSON_Delete(node_); }
Json::Json(const Json& other) : node_(cJSON_Duplicate(other.node_, true)) {}
Json::Json(Json&& other) noexcept : node_(other.node_) { other.node_ = nullptr; }
Json& Json::operator=(const Json& other) {
  if (this != &other) {
    cJSON_Delete(node_);
    node_ = cJSON_Duplicate(other.node_, true);
  }
  return *this;
}
Json& Json::operator=(Json&& other) noexcept {
  if (this != &other) {
    cJSON_Delete(node_);
    node_ = other.node_;
    other.node_ = nullptr;
  }
  return *this;
}

Json Json::null() { return Json(); }
Json Json::object() { return Json(cJSON_CreateObject()); }
Json Json::array() { return Json(cJSON_CreateArray()); }
Json Json::string(std::string_view s) { return Json(cJSON_CreateString(std::string(s).c_str())); }
Json Json::number(double n) { return Json(cJSON_CreateNumber(n)); }
Json Json::boolean(bool b) { return Json(cJSON_CreateBool(b)); }
Json Json::copy_of(JsonView v) {
  return v.present() ? Json(cJSON_Duplicate(v.raw(), true)) : Json::null();
}

Result<Json> Json::parse(std::string_view text) {
  const char* end = nullptr;
  cJSON* node = cJSON_ParseWithLengthOpts(text.data(), text.size(), &end, false);
  if (!node) {
    std::size_t pos = end && end >= text.data() ? static_cast<std::size_t>(end - text.data()) : 0;
    return invalid_argument("malformed JSON near byte " + std::to_string(pos));
  }
  Json out(node);
  std::size_t consumed = static_cast<std::size_t>(end - text.data());
  for (std::size_t i = consumed; i < text.size(); ++i) {
    char c = text[i];
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      return invalid_argument("malformed JSON: unexpected data after the document at byte " +
                              std::to_string(i));
    }
  }
  return out;
}

cJSON* Json::release() {
  cJSON* n = node_ ? node_ : cJSON_CreateNull();
  node_ = nullptr;
  return n;
}

Json& Json::set(std::string_view key, Json value) {
  if (!cJSON_IsObject(node_)) return *this;
  std::string k(key);
  cJSON* item = value.release();
  if (cJSON_GetObjectItemCaseSensitive(node_, k.c_str())) {
    cJSON_ReplaceItemInObjectCaseSensitive(node_, k.c_str(), item);
  } else {
    cJSON_AddItemToObject(node_, k.c_str(), item);
  }
  return *this;
}

Json& Json::push(Json value) {
  if (cJSON_IsArray(node_)) cJSON_AddItemToArray(node_, value.release());
  return *this;
}

void Json::erase(std::string_view key) {
  if (cJSON_IsObject(node_)) cJSON_DeleteItemFromObjectCaseSensitive(node_, std::string(key).c_str());
}

void append_json_quoted(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  // Runs of plain characters are copied at once; only escapes go one by one.
  std::size_t plain = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out.push_back('"');
}

std::string json_quote(std::string_view s) {
  std::string out;
  append_json_quoted(out, s);
  return out;
}

}  // namespace genkit

namespace genkit {

namespace {

void canonical_into(JsonView v, std::string& out) {
  if (v.is_string()) {
    append_json_quoted(out, v.as_string());
  } else if (v.is_null() || v.is_bool()) {
    out += v.is_null() ? "null" : v.as_bool() ? "true" : "false";
  } else if (v.is_object()) {
    std::vector<std::pair<std::string_view, JsonView>> members;
    members.reserve(v.size());
    v.for_each([&](std::string_view k, JsonView c) { members.emplace_back(k, c); });
    // (Keys of a validated input are unique, so this order is total.)
    // Stable: a repeated key's members keep their order, so the canonical
    // form of a canonical form is itself (found by tests/fuzz/fuzz_json).
    std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out += '{';
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (i) out += ',';
      append_json_quoted(out, members[i].first);
      out += ':';
      canonical_into(members[i].second, out);
    }
    out += '}';
  } else if (v.is_array()) {
    out += '[';
    bool first = true;
    v.for_each([&](std::string_view, JsonView c) {
      if (!first) out += ',';
      first = false;
      canonical_into(c, out);
    });
    out += ']';
  } else {
    out += v.dump();
  }
}

}  // namespace

std::string canonical_dump(JsonView v) {
  std::string out;
  canonical_into(v, out);
  return out;
}

}  // namespace genkit
