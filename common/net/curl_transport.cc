#include "common/net/curl_transport.h"

#include <curl/curl.h>
#include <event2/event.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <vector>

#include "common/log.h"

namespace genkit {

namespace {

// One transfer. Owned by Impl::transfers_ until it completes or is cancelled.
struct Transfer {
  uint64_t id = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpFetch request;
  HttpFetchDone done;
  HttpFetchResult result;
  std::size_t received = 0;
  bool too_large = false;
  bool aborted = false;
  bool cancelled = false;
  char error[CURL_ERROR_SIZE] = {};
};

std::once_flag g_curl_init;

}  // namespace

struct CurlTransport::Impl {
  explicit Impl(Loop& l) : loop(l) {
    std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    multi = curl_multi_init();
    timer = evtimer_new(loop.base(), &Impl::on_timer, this);
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::on_timer_change);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 1024L);
  }

  ~Impl() {
    for (auto& [id, t] : transfers) {
      curl_multi_remove_handle(multi, t->easy);
      curl_slist_free_all(t->headers);
      curl_easy_cleanup(t->easy);
    }
    transfers.clear();
    for (CURL* e : idle_handles) curl_easy_cleanup(e);
    curl_multi_cleanup(multi);  // removes (and so frees) every socket's event
    event_free(timer);
  }

  // Finished handles are kept (up to a few) for the next call, options and
  // all: cheaper than curl_easy_init() or curl_easy_reset() and twenty
  // setopt calls for every model request. start() sets every option that
  // differs between requests.
  void cleanup(Transfer& t) {
    curl_slist_free_all(t.headers);
    t.headers = nullptr;
    if (idle_handles.size() < kMaxIdleHandles) {
      idle_handles.push_back(t.easy);
    } else {
      curl_easy_cleanup(t.easy);
    }
  }

  // Options that are the same for every request of this client.
  static CURL* new_handle() {
    CURL* e = curl_easy_init();
    if (e == nullptr) return nullptr;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Impl::on_write);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);  // the minimum; curl's default is 64 KiB
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    return e;
  }

  static size_t on_write(char* data, size_t size, size_t n, void* arg) {
    auto* t = static_cast<Transfer*>(arg);
    size_t len = size * n;
    if (t->cancelled) return 0;  // aborts the transfer
    t->received += len;
    if (t->received > t->request.max_response_bytes) {
      t->too_large = true;
      return 0;
    }
    if (t->request.on_data) {
      if (!t->request.on_data(std::string_view(data, len))) {
        t->aborted = true;
        return 0;
      }
    } else {
      t->result.body.append(data, len);
    }
    return len;
  }

  // curl tells us which sockets to watch; each gets one libevent event,
  // kept with the socket (curl_multi_assign) and re-armed in place.
  static int on_socket(CURL*, curl_socket_t fd, int what, void* arg, void* socket_data) {
    auto* self = static_cast<Impl*>(arg);
    auto* ev = static_cast<event*>(socket_data);
    if (what == CURL_POLL_REMOVE) {
      if (ev != nullptr) {
        event_free(ev);
        curl_multi_assign(self->multi, fd, nullptr);
      }
      return 0;
    }
    short kind = EV_PERSIST;
    if (what & CURL_POLL_IN) kind |= EV_READ;
    if (what & CURL_POLL_OUT) kind |= EV_WRITE;
    if (ev == nullptr) {
      ev = event_new(self->loop.base(), fd, kind, &Impl::on_event, self);
      curl_multi_assign(self->multi, fd, ev);
    } else {
      event_del(ev);
      event_assign(ev, self->loop.base(), fd, kind, &Impl::on_event, self);
    }
    event_add(ev, nullptr);
    return 0;
  }

  static void on_event(evutil_socket_t fd, short what, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    int flags = 0;
    if (what & EV_READ) flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE) flags |= CURL_CSELECT_OUT;
    int running = 0;
    curl_multi_socket_action(self->multi, fd, flags, &running);
    self->collect();
  }

  static int on_timer_change(CURLM*, long timeout_ms, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    if (timeout_ms < 0) {
      evtimer_del(self->timer);
    } else {
      timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
      evtimer_add(self->timer, &tv);
    }
    return 0;
  }

  static void on_timer(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    int running = 0;
    curl_multi_socket_action(self->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    self->collect();
  }

  // Finished transfers: detach them, then call their callbacks (which may
  // start new transfers).
  void collect() {
    CURLMsg* msg;
    int left = 0;
    std::vector<std::unique_ptr<Transfer>> finished;
    std::vector<CURLcode> codes;
    while ((msg = curl_multi_info_read(multi, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* owner = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&owner));
      auto it = owner ? transfers.find(owner->id) : transfers.end();
      if (it == transfers.end()) continue;
      codes.push_back(msg->data.result);
      finished.push_back(std::move(it->second));
      transfers.erase(it);
    }
    for (std::size_t i = 0; i < finished.size(); ++i) {
      Transfer& t = *finished[i];
      curl_multi_remove_handle(multi, t.easy);
      complete(t, codes[i]);
      cleanup(t);
    }
  }

  static constexpr std::size_t kMaxIdleHandles = 64;

  static void complete(Transfer& t, CURLcode code) {
    if (t.cancelled) return;
    auto done = std::move(t.done);
    if (code == CURLE_OK) {
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &t.result.status);
      char* ct = nullptr;
      curl_easy_getinfo(t.easy, CURLINFO_CONTENT_TYPE, &ct);
      if (ct) t.result.content_type = ct;
      return done(std::move(t.result));
    }
    if (t.too_large) {
      return done(Status(Code::kUpstream, "the upstream reply exceeded " +
                                               std::to_string(t.request.max_response_bytes) + " bytes"));
    }
    if (t.aborted) return done(Status(Code::kUpstream, "the upstream reply was rejected while streaming"));
    if (code == CURLE_OPERATION_TIMEDOUT) {
      return done(Status(Code::kDeadlineExceeded, "the upstream call timed out"));
    }
    std::string why = t.error[0] ? t.error : curl_easy_strerror(code);
    done(Status(Code::kUnavailable, "the upstream call failed: " + why));
  }

  void start(HttpFetch request, CancelToken cancel, HttpFetchDone done) {
    auto t = std::make_unique<Transfer>();
    t->request = std::move(request);
    t->done = std::move(done);
    CURL* e = nullptr;
    if (!idle_handles.empty()) {
      e = idle_handles.back();
      idle_handles.pop_back();
    } else {
      e = new_handle();
    }
    if (e == nullptr) return t->done(Status(Code::kUnavailable, "the upstream call failed: out of memory"));
    t->easy = e;
    const HttpFetch& r = t->request;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());  // (curl keeps its own copy)
    if (r.method == "POST" || !r.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    } else {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    bool plain = r.method == "POST" || r.method == "GET";
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, plain ? nullptr : r.method.c_str());
    for (const auto& [k, v] : r.headers) t->headers = curl_slist_append(t->headers, (k + ": " + v).c_str());
    // No "Expect: 100-continue" round trip for our small JSON bodies.
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::min<long>(10000, static_cast<long>(r.timeout.count())));
    // Waiting to multiplex only pays off where HTTP/2 is possible (TLS); on
    // plain http it would hold a burst behind the first reply.
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, r.url.rfind("https://", 0) == 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, r.receive_buffer);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    // What curl copied is not kept twice while the call is in flight.
    t->request.url = std::string();
    t->request.headers = {};
    uint64_t id = t->id = ++next_id;
    transfers[id] = std::move(t);
    // Ids, not pointers: a late cancel must not touch a finished transfer;
    // `alive` keeps a cancel after the client is gone harmless.
    std::weak_ptr<bool> guard = alive;
    cancel.on_cancel([this, id, guard] {
      if (guard.expired()) return;
      auto it = transfers.find(id);
      if (it == transfers.end()) return;
      it->second->cancelled = true;
      // Never tear down from inside a curl callback: do it on the next tick.
      loop.defer([this, id, guard] {
        if (!guard.expired()) abandon(id);
      });
    });
    curl_multi_add_handle(multi, e);
  }

  void abandon(uint64_t id) {
    auto it = transfers.find(id);
    if (it == transfers.end()) return;
    std::unique_ptr<Transfer> t = std::move(it->second);
    transfers.erase(it);
    curl_multi_remove_handle(multi, t->easy);
    cleanup(*t);
  }

  Loop& loop;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  CURLM* multi = nullptr;
  event* timer = nullptr;
  std::map<uint64_t, std::unique_ptr<Transfer>> transfers;
  std::vector<CURL*> idle_handles;
  uint64_t next_id = 0;
};

CurlTransport::CurlTransport(Loop& loop) : impl_(std::make_unique<Impl>(loop)) {}
CurlTransport::~CurlTransport() = default;

void CurlTransport::start(HttpFetch request, CancelToken cancel, HttpFetchDone done) {
  impl_->start(std::move(request), std::move(cancel), std::move(done));
}

std::size_t CurlTransport::in_flight() const { return impl_->transfers.size(); }

}  // namespace genkit
