#include "tests/support/grpc_wire.h"

namespace itest::h2 {

std::string grpc_prefix(bool compressed, uint32_t length) {
  std::string out(1, compressed ? '\1' : '\0');
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(length >> shift));
  return out;
}

std::string grpc_message(std::string_view payload, bool compressed) {
  return grpc_prefix(compressed, static_cast<uint32_t>(payload.size())) + std::string(payload);
}

std::string grpc_request_block(std::string_view method,
                               const std::vector<std::pair<std::string, std::string>>& extra) {
  std::vector<std::pair<std::string, std::string>> fields = {{"content-type", "application/grpc"}, {"te", "trailers"}};
  fields.insert(fields.end(), extra.begin(), extra.end());
  return request_block("POST", method, fields);
}

bool GrpcWire::connect(int port, milliseconds timeout) {
  if (!wire_.connect(port, timeout) || !wire_.send(preface())) return fail(wire_.error());
  std::optional<Frame> settings = wire_.until(kSettings, 0u, timeout);
  if (!settings) return fail("no SETTINGS from the server: " + wire_.error());
  return send(frame(kSettings, kAck, 0));
}

bool GrpcWire::header_block(uint32_t stream_id, const std::string& block, bool end_stream) {
  std::optional<HeaderList> fields = hpack_.decode(block);
  if (!fields) return fail("HPACK: " + hpack_.error());
  GrpcOutcome& o = streams_[stream_id];
  std::optional<std::string> status = header_value(*fields, "grpc-status");
  if (status && !status->empty() && status->find_first_not_of("0123456789") == std::string::npos) {
    o.status = std::stoi(*status);
  }
  if (std::optional<std::string> message = header_value(*fields, "grpc-message")) o.message = *message;
  if (end_stream) ended_[stream_id] = true;
  return true;
}

bool GrpcWire::take(const Frame& f) {
  switch (f.type) {
    case kSettings:
      if (!(f.flags & kAck)) send(frame(kSettings, kAck, 0));
      break;
    case kPing:
      if (!(f.flags & kAck)) send(frame(kPing, kAck, 0, f.payload));
      break;
    case kHeaders:
    case kContinuation:
      if (f.type == kHeaders) {
        block_.clear();
        block_stream_ = f.stream;
        block_ends_stream_ = f.flags & kEndStream;
      }
      // (HEADERS may carry padding or priority; grpc-core sends neither.)
      block_ += f.payload;
      if ((f.flags & kEndHeaders) && !header_block(block_stream_, block_, block_ends_stream_)) return false;
      break;
    case kData:
      streams_[f.stream].data += f.payload;
      if (f.flags & kEndStream) ended_[f.stream] = true;
      break;
    case kRstStream:
      streams_[f.stream].reset = f.rst_error();
      ended_[f.stream] = true;
      break;
    default:
      break;
  }
  return true;
}

std::optional<GrpcOutcome> GrpcWire::outcome(uint32_t stream, milliseconds timeout) {
  Clock::time_point deadline = Clock::now() + timeout;
  while (!ended_[stream]) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      fail("stream " + std::to_string(stream) + " did not end in time");
      return std::nullopt;
    }
    std::optional<Frame> f = wire_.next(left);
    if (!f) {
      fail("stream " + std::to_string(stream) + ": " + (wire_.closed() ? "connection closed" : wire_.error()));
      return std::nullopt;
    }
    if (!take(*f)) return std::nullopt;
  }
  return streams_[stream];
}

}  // namespace itest::h2
