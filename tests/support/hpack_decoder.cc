#include "tests/support/hpack_decoder.h"

namespace itest::h2 {

namespace {

// RFC 7541 Appendix A.
constexpr std::pair<const char*, const char*> kStatic[] = {
    {":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"}, {":path", "/index.html"},
    {":scheme", "http"}, {":scheme", "https"}, {":status", "200"}, {":status", "204"}, {":status", "206"},
    {":status", "304"}, {":status", "400"}, {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""},
    {"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""}, {"authorization", ""}, {"cache-control", ""},
    {"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
    {"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""}, {"date", ""},
    {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""}, {"if-match", ""},
    {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""}, {"if-unmodified-since", ""},
    {"last-modified", ""}, {"link", ""}, {"location", ""}, {"max-forwards", ""}, {"proxy-authenticate", ""},
    {"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""},
    {"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
    {"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
};
constexpr std::size_t kStaticCount = sizeof kStatic / sizeof kStatic[0];

std::size_t entry_size(const std::pair<std::string, std::string>& f) { return f.first.size() + f.second.size() + 32; }

}  // namespace

bool HpackDecoder::integer(std::string_view& in, int prefix_bits, std::size_t* out) {
  if (in.empty()) return fail("truncated integer");
  const std::size_t max_prefix = (1u << prefix_bits) - 1;
  std::size_t value = static_cast<unsigned char>(in[0]) & max_prefix;
  in.remove_prefix(1);
  if (value == max_prefix) {
    for (int shift = 0;; shift += 7) {
      if (in.empty() || shift > 28) return fail("bad integer");
      auto b = static_cast<unsigned char>(in[0]);
      in.remove_prefix(1);
      value += static_cast<std::size_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
  }
  *out = value;
  return true;
}

bool HpackDecoder::string(std::string_view& in, std::string* out) {
  if (in.empty()) return fail("truncated string");
  const bool huffman = static_cast<unsigned char>(in[0]) & 0x80;
  std::size_t len = 0;
  if (!integer(in, 7, &len)) return false;
  if (len > in.size()) return fail("string past the block");
  if (huffman) {
    huffman_seen_ = true;
    *out = "<huffman>";
  } else {
    *out = std::string(in.substr(0, len));
  }
  in.remove_prefix(len);
  return true;
}

bool HpackDecoder::entry(std::size_t index, std::pair<std::string, std::string>* out) {
  if (index == 0) return fail("index 0");
  if (index <= kStaticCount) {
    *out = {kStatic[index - 1].first, kStatic[index - 1].second};
    return true;
  }
  if (index - kStaticCount > dynamic_.size()) return fail("index past the dynamic table");
  *out = dynamic_[index - kStaticCount - 1];
  return true;
}

void HpackDecoder::evict_to(std::size_t limit) {
  while (dynamic_size_ > limit && !dynamic_.empty()) {
    dynamic_size_ -= entry_size(dynamic_.back());
    dynamic_.pop_back();
  }
}

void HpackDecoder::insert(std::pair<std::string, std::string> field) {
  const std::size_t size = entry_size(field);
  evict_to(size > max_size_ ? 0 : max_size_ - size);
  if (size > max_size_) return;  // (an entry larger than the table empties it, RFC 7541 §4.4)
  dynamic_size_ += size;
  dynamic_.push_front(std::move(field));
}

std::optional<HeaderList> HpackDecoder::decode(std::string_view in) {
  HeaderList out;
  while (!in.empty()) {
    auto b = static_cast<unsigned char>(in[0]);
    std::size_t index = 0;
    std::pair<std::string, std::string> field;
    if (b & 0x80) {  // indexed field
      if (!integer(in, 7, &index) || !entry(index, &field)) return std::nullopt;
      out.push_back(std::move(field));
      continue;
    }
    if ((b & 0xe0) == 0x20) {  // dynamic table size update
      if (!integer(in, 5, &max_size_)) return std::nullopt;
      evict_to(max_size_);
      continue;
    }
    const bool indexing = (b & 0xc0) == 0x40;
    if (!integer(in, indexing ? 6 : 4, &index)) return std::nullopt;
    if (index == 0) {
      if (!string(in, &field.first)) return std::nullopt;
    } else {
      if (!entry(index, &field)) return std::nullopt;
    }
    if (!string(in, &field.second)) return std::nullopt;
    if (indexing) insert(field);
    out.push_back(std::move(field));
  }
  return out;
}

std::optional<std::string> header_value(const HeaderList& headers, std::string_view name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace itest::h2
