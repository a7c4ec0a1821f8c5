// The response side of HTTP/2: an exchange's head, body and end become
// HEADERS and DATA frames of its stream. Every write is one chunk, and each
// chunk goes out as its own DATA frame (an SSE event arrives as written);
// the data provider defers while nothing is buffered and is resumed by the
// next write. A stream whose reader falls too far behind is reset.
#include <cctype>
#include <cstring>

#include "common/log.h"
#include "worker/http2_session.h"

namespace genkit::http {

namespace {

// Connection-specific fields have no place in HTTP/2 (RFC 9113 §8.2.2).
bool connection_specific(std::string_view lower_name) {
  return lower_name == "connection" || lower_name == "keep-alive" || lower_name == "proxy-connection" ||
         lower_name == "transfer-encoding" || lower_name == "upgrade";
}

nghttp2_nv nv(std::string_view name, std::string_view value) {
  return nghttp2_nv{const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(name.data())),
                    const_cast<uint8_t*>(reinterpret_cast<const uint8_t*>(value.data())), name.size(), value.size(),
                    NGHTTP2_NV_FLAG_NONE};  // (copied by nghttp2_submit_response)
}

}  // namespace

void Http2Session::submit_head(Http2Stream& st, const ResponseHead& head) {
  if (closed_ || st.dropped) return;
  std::string status = std::to_string(head.status);
  std::string length = head.content_length >= 0 ? std::to_string(head.content_length) : std::string();
  // HTTP/2 names are lower-case: all of them in one buffer, sized first
  // so that nothing moves while nva points into it.
  std::size_t name_bytes = 0;
  for (const HeadField& f : head.fields) name_bytes += f.name.size();
  std::string names;
  names.reserve(name_bytes);
  std::vector<nghttp2_nv> nva;
  nva.reserve(head.fields.size() + 3);
  nva.push_back(nv(":status", status));
  nva.push_back(nv("date", http_date()));
  for (const HeadField& f : head.fields) {
    std::size_t at = names.size();
    for (char c : f.name) names.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    std::string_view name(names.data() + at, f.name.size());
    if (connection_specific(name) || name == "content-length") continue;
    nva.push_back(nv(name, f.value));
  }
  if (!length.empty()) nva.push_back(nv("content-length", length));
  // A HEAD response, or an empty one, ends with its HEADERS frame.
  st.has_body = !st.head_request && head.content_length != 0;
  nghttp2_data_provider body{};
  body.source.ptr = &st;
  body.read_callback = &Http2Session::read_body;
  int rv = nghttp2_submit_response(session_, st.id, nva.data(), nva.size(), st.has_body ? &body : nullptr);
  if (rv != 0) {
    log_debug("http2_submit_failed",
              {{"client", conn_.client_ip()}, {"stream", st.id}, {"error", nghttp2_strerror(rv)}});
    st.has_body = false;
  }
  schedule_send();
}

void Http2Session::submit_body(Http2Stream& st, std::string_view data) {
  if (closed_ || st.dropped || !st.has_body || data.empty()) return;
  const std::size_t conn_cap = conn_.context().limits.max_output_buffer;
  const std::size_t stream_cap = std::min(h2::kMaxStreamOutput, conn_cap);
  if ((st.buffered > 0 && st.buffered + data.size() > stream_cap) ||
      (total_buffered_ > 0 && total_buffered_ + data.size() > conn_cap)) {
    return drop_stream(st, "the client is not reading this stream");
  }
  st.chunks.emplace_back(data);
  st.buffered += data.size();
  total_buffered_ += data.size();
  if (st.deferred) {
    st.deferred = false;
    nghttp2_session_resume_data(session_, st.id);
  }
  schedule_send();
}

void Http2Session::submit_end(Http2Stream& st) {
  if (closed_ || st.dropped) return;
  st.body_ended = true;
  if (st.has_body && st.deferred) {
    st.deferred = false;
    nghttp2_session_resume_data(session_, st.id);  // for the END_STREAM flag
  }
  schedule_send();
}

// Resets a stream whose response we will not hold any longer; its exchange
// hears client_gone() when nghttp2 closes the stream.
void Http2Session::drop_stream(Http2Stream& st, const char* why) {
  log_warning("slow_client_dropped", {{"client", conn_.client_ip()}, {"stream", st.id}, {"buffered", st.buffered},
                                      {"reason", why}});
  st.dropped = true;
  total_buffered_ -= st.buffered;
  st.buffered = 0;
  st.chunks.clear();
  st.chunk_offset = 0;
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, st.id, NGHTTP2_CANCEL);
  schedule_send();
}

ssize_t Http2Session::read_body(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                                nghttp2_data_source* source, void* p) {
  auto* s = static_cast<Http2Session*>(p);
  auto* st = static_cast<Http2Stream*>(source->ptr);
  if (st->chunks.empty()) {
    if (st->body_ended && !st->dropped) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    st->deferred = true;  // resumed by the next write
    return NGHTTP2_ERR_DEFERRED;
  }
  const std::string& front = st->chunks.front();
  std::size_t n = std::min(length, front.size() - st->chunk_offset);
  std::memcpy(buf, front.data() + st->chunk_offset, n);
  st->chunk_offset += n;
  st->buffered -= n;
  s->total_buffered_ -= n;
  if (st->chunk_offset == front.size()) {
    st->chunks.pop_front();
    st->chunk_offset = 0;
  }
  if (st->chunks.empty() && st->body_ended) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace genkit::http
