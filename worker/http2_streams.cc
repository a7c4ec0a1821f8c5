// The streams of an HTTP/2 session: a request as it arrives (header
// fields, body, the limits on both), its hand-over to the router, early
// answers (408/413/431), and the stream's end.
#include <charconv>

#include "common/runtime/trace.h"
#include "worker/errors.h"
#include "worker/http2_session.h"
#include "worker/router.h"

namespace genkit::http {

namespace {

constexpr std::chrono::seconds kEarlyAnswerGrace{1};  // see answer_early()

Http2Session* self_of(void* p) { return static_cast<Http2Session*>(p); }

}  // namespace

Http2Stream* Http2Session::stream(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second.get();
}

Http2Stream& Http2Session::open_stream(int32_t id) {
  auto st = std::make_unique<Http2Stream>();
  st->id = id;
  st->request.client_ip = conn_.client_ip();
  st->request.secure = conn_.secure();
  st->deadline = Clock::now() + std::chrono::seconds(conn_.context().limits.read_timeout_s);
  Http2Stream& ref = *st;
  streams_[id] = std::move(st);
  timer_dirty_ = true;
  return ref;
}

int Http2Session::on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd, void* p) {
  Http2Session* s = self_of(p);
  h2::Verdict v = h2::Verdict::kOk;
  if (hd->type == NGHTTP2_HEADERS) v = s->header_guard_.begin_headers(hd->length);
  if (hd->type == NGHTTP2_CONTINUATION) v = s->header_guard_.continuation(hd->length);
  return v == h2::Verdict::kAbuse ? s->abuse(s->header_guard_.why()) : 0;
}

int Http2Session::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* p) {
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    self_of(p)->open_stream(frame->hd.stream_id);
  }
  return 0;
}

int Http2Session::on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                            const uint8_t* value, size_t valuelen, uint8_t, void* p) {
  Http2Session* s = self_of(p);
  if (s->header_guard_.field(namelen, valuelen) == h2::Verdict::kAbuse) return s->abuse(s->header_guard_.why());
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;  // trailers: not kept
  Http2Stream* st = s->stream(frame->hd.stream_id);
  if (!st) return 0;
  st->header_bytes += namelen + valuelen + 32;
  if (st->header_bytes > h2::kMaxHeaderListSize) {
    // Answered 431 at the end of the block; nothing more is stored.
    std::vector<Header>().swap(st->request.headers);
    return 0;
  }
  std::string_view n(reinterpret_cast<const char*>(name), namelen);
  std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  Request& r = st->request;
  if (!n.empty() && n[0] == ':') {  // (nghttp2 has checked the pseudo-headers)
    if (n == ":method") {
      r.method = v;
    } else if (n == ":path") {
      std::size_t q = v.find('?');
      r.path = v.substr(0, q);
      if (q != std::string_view::npos) r.query = v.substr(q + 1);
    } else if (n == ":authority") {
      st->authority = v;
    }
    return 0;
  }
  r.headers.push_back(Header{std::string(n), std::string(v)});  // (lower-case: nghttp2 refuses others)
  return 0;
}

// The request's header block is complete.
void Http2Session::headers_done(Http2Stream& st) {
  st.headers_complete = true;
  Request& r = st.request;
  // Middleware (trusted hosts) reads "host"; HTTP/2 says ":authority".
  if (!st.authority.empty() && !r.header("host")) r.headers.push_back(Header{"host", std::move(st.authority)});
  const std::string* rid = r.header("x-request-id");
  r.request_id = rid && valid_request_id(*rid) ? *rid : uuid4();
  st.head_request = r.method == "HEAD";
  if (st.header_bytes > h2::kMaxHeaderListSize) return answer_early(st, 431, "request headers are too large");
  const int64_t max_body = conn_.context().limits.max_body_size;
  if (const std::string* cl = r.header("content-length")) {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (ec == std::errc::result_out_of_range || (ec == std::errc() && n > static_cast<uint64_t>(max_body))) {
      return answer_early(st, 413, body_too_large_detail(max_body));
    }
  }
}

int Http2Session::on_data_chunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                                void* p) {
  Http2Session* s = self_of(p);
  Http2Stream* st = s->stream(stream_id);
  if (!st || st->answered_early) {
    nghttp2_session_consume_connection(session, len);  // the stream's window stays shut
    return 0;
  }
  const int64_t max_body = s->conn_.context().limits.max_body_size;
  if (st->request.body.size() + len > static_cast<uint64_t>(max_body)) {
    nghttp2_session_consume_connection(session, len);
    std::string().swap(st->request.body);
    s->answer_early(*st, 413, body_too_large_detail(max_body));
    return 0;
  }
  nghttp2_session_consume(session, stream_id, len);
  st->request.body.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int Http2Session::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* p) {
  Http2Session* s = self_of(p);
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
    case NGHTTP2_DATA: {
      Http2Stream* st = s->stream(frame->hd.stream_id);
      if (!st) break;
      if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) s->headers_done(*st);
      if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) s->request_done(*st);
      break;
    }
    case NGHTTP2_RST_STREAM:
      if (!s->count_reset()) return s->abuse("rapid reset: too many streams reset by the client");
      break;
    default:
      break;
  }
  return 0;
}

// A frame nghttp2 refused; most cost us a stream reset.
int Http2Session::on_invalid_frame_recv(nghttp2_session*, const nghttp2_frame*, int, void* p) {
  Http2Session* s = self_of(p);
  return s->count_reset() ? 0 : s->abuse("too many invalid or refused streams");
}

void Http2Session::request_done(Http2Stream& st) {
  if (st.request_done) return;
  st.request_done = true;
  timer_dirty_ = true;
  if (!st.answered_early) dispatch(st);
}

void Http2Session::dispatch(Http2Stream& st) {
  ServerContext& ctx = conn_.context();
  auto ex = std::make_shared<Http2Exchange>(this, &st, std::move(st.request), ctx.policy);
  st.exchange = ex;
  ex->count_in(ctx.metrics, ctx.unrouted_label);
  // Counted first, as for HTTP/1.1: the request reaching MAX_REQUESTS starts the drain.
  if (ctx.on_request_start) ctx.on_request_start();
  ctx.router->handle(ex);  // (writes only queue: nothing frees the stream meanwhile)
  if (ctx.draining) begin_drain();
}

// Answers a request before it has arrived in full (408, 413, 431). The rest
// of it is not read: its DATA no longer opens the stream's window (only the
// connection's), so the client can send at most one window more. Once the
// response has gone out, the client has kEarlyAnswerGrace to end or reset
// the stream itself, then we reset it with NO_ERROR (RFC 9113 §8.1).
// (Resetting at once loses the response in curl 7.88, which reports
// "Stream error in the HTTP/2 framing layer" instead of the 413.)
void Http2Session::answer_early(Http2Stream& st, int status, const std::string& detail) {
  if (st.answered_early || st.exchange) return;
  st.answered_early = true;
  timer_dirty_ = true;
  Request& r = st.request;
  if (r.request_id.empty()) r.request_id = uuid4();
  if (r.method.empty()) r.method.push_back('-');
  std::string().swap(r.body);
  ServerContext& ctx = conn_.context();
  auto ex = std::make_shared<Http2Exchange>(this, &st, std::move(r), ctx.policy);
  st.exchange = ex;
  ex->count_in(ctx.metrics, ctx.unrouted_label);
  ex->respond(error_response(status, detail));
}

int Http2Session::on_frame_send(nghttp2_session*, const nghttp2_frame* frame, void* p) {
  if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
      !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    return 0;
  }
  Http2Session* s = self_of(p);
  Http2Stream* st = s->stream(frame->hd.stream_id);
  if (st && !st->request_done) {
    st->reset_at = Clock::now() + kEarlyAnswerGrace;
    s->timer_dirty_ = true;
  }
  return 0;
}

int Http2Session::on_stream_close(nghttp2_session*, int32_t stream_id, uint32_t, void* p) {
  Http2Session* s = self_of(p);
  auto it = s->streams_.find(stream_id);
  if (it == s->streams_.end()) return 0;
  std::unique_ptr<Http2Stream> st = std::move(it->second);
  s->streams_.erase(it);
  s->total_buffered_ -= st->buffered;
  if (s->streams_.empty()) s->idle_since_ = Clock::now();
  s->timer_dirty_ = true;
  if (std::shared_ptr<Http2Exchange> ex = std::move(st->exchange)) {
    ex->detach();
    if (!ex->finished()) ex->client_gone();  // reset before its response ended: cancels the flow
  }
  return 0;
}

}  // namespace genkit::http
