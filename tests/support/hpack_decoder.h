// A small HPACK decoder (RFC 7541) for the raw HTTP/2 tests that must read
// a server's header blocks: gRPC's status lives in trailers that grpc-core
// encodes with indexing. Static and dynamic tables, integers, literals;
// Huffman-coded strings (grpc-core uses them only for -bin metadata) are
// not decoded: they read as "<huffman>" and huffman_seen() says so.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace itest::h2 {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

class HpackDecoder {
 public:
  // One complete header block (HEADERS + CONTINUATION payloads, joined);
  // blocks must be given in the order they arrived on the connection.
  // nullopt on a coding error (error() says which).
  std::optional<HeaderList> decode(std::string_view block);
  const std::string& error() const { return error_; }
  bool huffman_seen() const { return huffman_seen_; }

 private:
  bool integer(std::string_view& in, int prefix_bits, std::size_t* out);
  bool string(std::string_view& in, std::string* out);
  bool entry(std::size_t index, std::pair<std::string, std::string>* out);
  void insert(std::pair<std::string, std::string> field);
  void evict_to(std::size_t limit);
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  std::deque<std::pair<std::string, std::string>> dynamic_;  // newest first
  std::size_t dynamic_size_ = 0;
  std::size_t max_size_ = 4096;
  bool huffman_seen_ = false;
  std::string error_;
};

// The value of `name` in `headers`, if present.
std::optional<std::string> header_value(const HeaderList& headers, std::string_view name);

}  // namespace itest::h2
