#include "objstore/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>

#include "common/text.h"

namespace floe::objstore::http {

namespace {

using SteadyClock = std::chrono::steady_clock;

// libcurl wants one global initialisation before any handle exists; it is
// process-wide by libcurl's design, not ours.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What one exchange accumulates while libcurl runs it.
struct Exchange {
  CURL* curl = nullptr;
  std::span<const uint8_t> upload;
  size_t uploaded = 0;
  Response response;
  size_t max_body = 0;
  bool too_large = false;
  bool headers_started = false;
  std::chrono::milliseconds first_byte{0};
  std::optional<SteadyClock::time_point> request_sent;  // when the last request byte left
  bool first_byte_timed_out = false;
};

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  size_t n = std::min(size * count, x->upload.size() - x->uploaded);
  std::memcpy(buffer, x->upload.data() + x->uploaded, n);
  x->uploaded += n;
  return n;
}

// libcurl rewinds the body when it resends a request (a reused connection
// that turned out dead); without this it gives up with SEND_FAIL_REWIND.
int on_seek(void* user, curl_off_t offset, int origin) {
  auto* x = static_cast<Exchange*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > x->upload.size()) return CURL_SEEKFUNC_FAIL;
  x->uploaded = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  std::string_view line(data, size * count);
  x->headers_started = true;
  if (line.starts_with("HTTP/")) {
    // A new status line (after 100 Continue, say): only the last response counts.
    x->response.headers.clear();
    return line.size();
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  x->response.headers.emplace_back(ascii_lower(trim_whitespace(line.substr(0, colon))), std::string(trim_whitespace(line.substr(colon + 1))));
  return line.size();
}

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* x = static_cast<Exchange*>(user);
  size_t n = size * count;
  if (x->response.body.size() + n > x->max_body) {
    x->too_large = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  x->response.body.insert(x->response.body.end(), data, data + n);
  return n;
}

// libcurl has connect and total timeouts but none for "the server went quiet
// after taking the request"; this progress callback adds it.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t ulnow) {
  auto* x = static_cast<Exchange*>(user);
  if (x->headers_started) return 0;
  auto now = SteadyClock::now();
  if (!x->request_sent) {
    // The clock starts once the connection is up and the whole body is out
    // (libcurl reports an upload's total as 0 until it starts sending, so
    // the body's own size is the measure).
    curl_off_t pretransfer = 0;
    curl_easy_getinfo(x->curl, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
    if (pretransfer == 0 || static_cast<size_t>(ulnow) < x->upload.size()) return 0;
    x->request_sent = now;
  }
  if (now - *x->request_sent > x->first_byte) {
    x->first_byte_timed_out = true;
    return 1;
  }
  return 0;
}

TransportErrorKind classify(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
      return TransportErrorKind::connect;
    case CURLE_OPERATION_TIMEDOUT:
      return TransportErrorKind::timeout;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SEND_FAIL_REWIND:
    // A reset during the TLS handshake (a load balancer's hiccup) looks like
    // this; certificate problems have codes of their own.
    case CURLE_SSL_CONNECT_ERROR:
      return TransportErrorKind::reset;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return TransportErrorKind::tls;
    default:
      return TransportErrorKind::other;
  }
}

template <typename T>
void set(CURL* curl, CURLoption option, T value) {
  CURLcode code = curl_easy_setopt(curl, option, value);
  if (code != CURLE_OK) {
    throw TransportError(TransportErrorKind::other, std::string("libcurl refused an option: ") + curl_easy_strerror(code));
  }
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next == nullptr) throw std::bad_alloc();
    list = next;
  }
};

}  // namespace

const std::string* Response::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return &v;
  }
  return nullptr;
}

std::string url_authority(std::string_view url) {
  size_t scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  size_t end = rest.find_first_of("/?#");
  return std::string(end == std::string_view::npos ? rest : rest.substr(0, end));
}

Client::Client(ClientOptions options) : options_(options) {
  init_curl_once();
  if (options_.max_connections == 0) throw std::invalid_argument("http client needs at least one connection");
}

Client::~Client() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* Client::acquire() {
  std::unique_lock lock(mu_);
  free_.wait(lock, [&] { return busy_ < options_.max_connections; });
  ++busy_;
  if (!idle_.empty()) {
    void* h = idle_.back();
    idle_.pop_back();
    return h;
  }
  lock.unlock();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    release(nullptr);
    throw TransportError(TransportErrorKind::other, "libcurl could not create a handle");
  }
  return curl;
}

void Client::release(void* handle) {
  {
    std::lock_guard lock(mu_);
    --busy_;
    if (handle != nullptr) idle_.push_back(handle);
  }
  free_.notify_one();
}

Response Client::send(const Request& request) {
  const Timeouts& timeouts = request.timeouts ? *request.timeouts : options_.timeouts;
  std::string what = request.method + " " + url_authority(request.url);

  CURL* curl = static_cast<CURL*>(acquire());
  struct Returner {
    Client* client;
    CURL* curl;
    ~Returner() { client->release(curl); }
  } returner{this, curl};
  // Keeps the connection and caches, drops the previous request's options.
  curl_easy_reset(curl);

  Exchange x;
  x.curl = curl;
  x.upload = request.body;
  x.max_body = options_.max_response_bytes;
  x.first_byte = timeouts.first_byte;

  HeaderList headers;
  for (const auto& [name, value] : request.headers) headers.add(name + ": " + value);
  // No "Expect: 100-continue" round trip before a body (it costs a wait on
  // every upload), and no Content-Type libcurl would invent for a POST.
  headers.add("Expect:");
  bool has_content_type = std::any_of(request.headers.begin(), request.headers.end(),
                                      [](const Header& h) { return ascii_lower(h.first) == "content-type"; });
  if (!has_content_type) headers.add("Content-Type:");

  set(curl, CURLOPT_URL, request.url.c_str());
  // URLs may come from environment variables (credential endpoints): nothing but HTTP(S).
  set(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  set(curl, CURLOPT_NOSIGNAL, 1L);
  set(curl, CURLOPT_HTTPHEADER, headers.list);
  set(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeouts.connect.count()));
  set(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeouts.total.count()));
  set(curl, CURLOPT_TCP_NODELAY, 1L);
  set(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  set(curl, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  set(curl, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  set(curl, CURLOPT_FOLLOWLOCATION, 0L);
  set(curl, CURLOPT_BUFFERSIZE, 256L * 1024);
  set(curl, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
  set(curl, CURLOPT_HEADERFUNCTION, on_header);
  set(curl, CURLOPT_HEADERDATA, &x);
  set(curl, CURLOPT_WRITEFUNCTION, on_write);
  set(curl, CURLOPT_WRITEDATA, &x);
  set(curl, CURLOPT_NOPROGRESS, 0L);
  set(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  set(curl, CURLOPT_XFERINFODATA, &x);

  if (request.method == "GET") {
    set(curl, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    set(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    set(curl, CURLOPT_UPLOAD, 1L);
    set(curl, CURLOPT_READFUNCTION, on_read);
    set(curl, CURLOPT_READDATA, &x);
    set(curl, CURLOPT_SEEKFUNCTION, on_seek);
    set(curl, CURLOPT_SEEKDATA, &x);
    set(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else {
    // POST, DELETE: the body (if any) goes as POST fields, the method as given.
    if (!request.body.empty() || request.method == "POST") {
      set(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
      set(curl, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(request.body.data()));
    }
    if (request.method != "POST") set(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode code = curl_easy_perform(curl);
  if (code != CURLE_OK) {
    if (x.too_large) {
      throw TransportError(TransportErrorKind::too_large,
                           what + ": response body over " + std::to_string(options_.max_response_bytes) + " bytes");
    }
    if (x.first_byte_timed_out) {
      throw TransportError(TransportErrorKind::timeout,
                           what + ": no response within " + std::to_string(timeouts.first_byte.count()) + " ms");
    }
    throw TransportError(classify(code), what + ": " + curl_easy_strerror(code));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  x.response.status = static_cast<int>(status);
  return std::move(x.response);
}

}  // namespace floe::objstore::http
