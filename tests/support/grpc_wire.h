// Raw gRPC calls over h2c (h2_wire.h) for the framing no grpc++ client
// sends: a message shorter than its length prefix, a length over the limit,
// a compressed flag with no grpc-encoding, bytes that are no protobuf.
// Every header block on the connection is HPACK-decoded in order, so the
// reply's grpc-status and grpc-message can be read; the server's SETTINGS
// and PINGs are acknowledged as a client must.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/h2_wire.h"
#include "tests/support/hpack_decoder.h"

namespace itest::h2 {

// The 5-byte prefix of a gRPC message: the compressed flag, then the length (big-endian).
std::string grpc_prefix(bool compressed, uint32_t length);
// A whole message: prefix + `payload`.
std::string grpc_message(std::string_view payload, bool compressed = false);
// The request HEADERS block of a call to `method` ("/package.Service/Method").
std::string grpc_request_block(std::string_view method,
                               const std::vector<std::pair<std::string, std::string>>& extra = {});

struct GrpcOutcome {
  std::optional<int> status;  // grpc-status (trailers, or a trailers-only reply)
  std::string message;        // grpc-message, as sent (percent-encoded)
  std::string data;           // the reply's DATA: length-prefixed messages
  std::optional<uint32_t> reset;  // RST_STREAM's error code, if the stream was reset
};

class GrpcWire {
 public:
  // Connects, sends the preface and waits for the server's SETTINGS (acknowledged).
  bool connect(int port, milliseconds timeout = milliseconds(5000));
  bool send(std::string_view bytes) { return wire_.send(bytes) || fail(wire_.error()); }
  // Reads until `stream` ends (trailers, an END_STREAM, or a reset); nullopt
  // on timeout, a closed connection or an undecodable header block.
  std::optional<GrpcOutcome> outcome(uint32_t stream, milliseconds timeout = milliseconds(5000));
  Wire& wire() { return wire_; }
  const std::string& error() const { return error_; }

 private:
  // Handles one frame; false when its header block cannot be decoded.
  bool take(const Frame& f);
  bool header_block(uint32_t stream_id, const std::string& block, bool end_stream);
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  Wire wire_;
  HpackDecoder hpack_;
  std::string block_;  // a header block waiting for its CONTINUATION frames
  uint32_t block_stream_ = 0;
  bool block_ends_stream_ = false;
  std::map<uint32_t, GrpcOutcome> streams_;
  std::map<uint32_t, bool> ended_;
  std::string error_;
};

}  // namespace itest::h2
