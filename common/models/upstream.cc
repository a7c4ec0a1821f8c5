#include "common/models/upstream.h"

#include <openssl/evp.h>

#include "common/log.h"

namespace genkit {

namespace {

bool allowed_media_type(std::string_view t) {
  for (std::string_view prefix : {"image/", "audio/", "video/", "text/", "application/pdf"}) {
    if (t.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

std::string base_type(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return std::string(t);
}
}  // namespace

Status upstream_http_error(std::string_view provider, long http_status) {
  std::string msg = std::string(provider) + " replied with HTTP " + std::to_string(http_status);
  if (http_status == 429 || http_status == 503) return Status(Code::kUnavailable, msg + ": the model is overloaded, retry later");
  if (http_status >= 400 && http_status < 500 && http_status != 408) {
    return Status(Code::kUpstream, msg).as_request_refused_upstream();
  }
  return Status(Code::kUpstream, msg);
}

bool is_upstream_failure(const Status& status) {
  return !status.is_ok() && status.code() != Code::kCancelled && status.code() != Code::kInvalidArgument &&
         !status.request_refused_upstream();
}

void finish_model_call(const std::string& model, ModelCallbacks& callbacks, const CancelToken& cancel,
                       Result<ModelResponse> result) {
  if (cancel.cancelled() || !callbacks.on_done) return;
  if (!result.ok()) {
    log_warning("upstream_failed", {{"model", model}, {"code", code_name(result.status().code())},
                                    {"message", result.status().message()}});
  }
  auto done = std::move(callbacks.on_done);
  callbacks = {};
  done(std::move(result));
}

Json provider_model_info(const std::string& label) {
  Json supports = Json::object();
  for (const char* k : {"multiturn", "tools", "systemRole", "media"}) supports.set(k, Json::boolean(true));
  Json out = Json::object();
  out.set("label", Json::string(label));
  out.set("supports", std::move(supports));
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

void resolve_media(HttpClient& client, const std::string& url, const std::string& declared_type,
                   std::chrono::milliseconds timeout, CancelToken cancel,
                   std::function<void(Result<InlineMedia>)> done) {
  if (url.rfind("data:", 0) == 0) {
    // data:<type>;base64,<payload>
    std::size_t comma = url.find(',');
    std::string meta = comma == std::string::npos ? "" : url.substr(5, comma - 5);
    if (comma == std::string::npos || meta.find(";base64") == std::string::npos) {
      return done(Status(Code::kInvalidArgument, "media: only base64 data: URLs are supported"));
    }
    std::string type = base_type(meta.substr(0, meta.find(';')));
    if (type.empty()) type = declared_type;
    if (!allowed_media_type(type)) return done(Status(Code::kInvalidArgument, "media: unsupported type " + type));
    return done(InlineMedia{type, url.substr(comma + 1)});
  }
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    return done(Status(Code::kInvalidArgument, "media: the URL must be http(s) or data:"));
  }
  HttpFetch fetch;
  fetch.method = "GET";
  fetch.url = url;
  fetch.timeout = timeout;
  fetch.max_response_bytes = kMaxMediaBytes;
  fetch.receive_buffer = 64 * 1024;
  client.fetch(std::move(fetch), std::move(cancel), [done, declared_type, url](Result<HttpFetchResult> r) {
    if (!r.ok()) {
      log_warning("media_fetch_failed", {{"url", url}, {"reason", r.status().message()}});
      return done(Status(Code::kInvalidArgument, "media: could not fetch the URL: " + r.status().message()));
    }
    if (r->status != 200) {
      return done(Status(Code::kInvalidArgument, "media: fetching the URL gave HTTP " + std::to_string(r->status)));
    }
    std::string type = base_type(r->content_type);
    if (type.empty() || type == "application/octet-stream") type = declared_type;
    if (!allowed_media_type(type)) return done(Status(Code::kInvalidArgument, "media: unsupported content type " + type));
    done(InlineMedia{type, base64_encode(r->body)});
  });
}

}  // namespace genkit
