#include "objstore/test_http_server_test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <stdexcept>

namespace floe::objstore::testing {

namespace {

// How often blocked loops look at the stop flag: short enough that the
// destructor returns at once, long enough not to spin.
constexpr std::chrono::milliseconds kSlice{10};
constexpr size_t kMaxHeaderBytes = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 412: return "Precondition Failed";
    case 416: return "Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

const std::string* ReceivedRequest::header(std::string_view lower_name) const {
  for (const auto& [n, v] : headers) {
    if (n == lower_name) return &v;
  }
  return nullptr;
}

TestHttpServer::TestHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error(std::string("test http server: socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(listen_fd_);
    throw std::runtime_error(std::string("test http server: cannot listen: ") + std::strerror(err));
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mu_);
    // Wakes connection threads blocked in poll; each closes its own fd, under
    // mu_, so none of these numbers can have been reused yet.
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(connections_);
  }
  for (auto& t : threads) t.join();
}

std::string TestHttpServer::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<ReceivedRequest> TestHttpServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

size_t TestHttpServer::connections_accepted() const {
  std::lock_guard lock(mu_);
  return accepted_;
}

bool TestHttpServer::sleep_unless_stopping(std::chrono::milliseconds d) const {
  auto until = std::chrono::steady_clock::now() + d;
  while (!stopping_) {
    auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds::zero()) return true;
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(left, kSlice));
  }
  return false;
}

void TestHttpServer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(kSlice.count()));
    if (r <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard lock(mu_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    ++accepted_;
    open_fds_.push_back(fd);
    connections_.emplace_back([this, fd] { serve(fd); });
  }
}

bool TestHttpServer::read_more(int fd, std::string& buf) const {
  char chunk[16384];
  while (!stopping_) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(kSlice.count()));
    if (r < 0 && errno != EINTR) return false;
    if (r <= 0) continue;
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf.append(chunk, static_cast<size_t>(n));
    return true;
  }
  return false;
}

void TestHttpServer::serve(int fd) {
  std::string buf;
  After after = After::keep_open;
  while (after == After::keep_open && !stopping_) after = serve_one(fd, buf);
  if (after == After::reset) {
    linger l{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  std::lock_guard lock(mu_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  ::close(fd);
}

TestHttpServer::After TestHttpServer::serve_one(int fd, std::string& buf) {
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > kMaxHeaderBytes) {
      send_all(fd, "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return After::close;
    }
    if (!read_more(fd, buf)) return After::close;
  }

  ReceivedRequest req;
  std::string_view head(buf.data(), end);
  size_t line_end = head.find("\r\n");
  std::string_view request_line = head.substr(0, line_end);
  size_t sp1 = request_line.find(' ');
  size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) {
    send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return After::close;
  }
  req.method = std::string(request_line.substr(0, sp1));
  req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
  bool keep_alive = request_line.substr(sp2 + 1) == "HTTP/1.1";
  std::string_view rest = line_end == std::string_view::npos ? std::string_view() : head.substr(line_end + 2);
  while (!rest.empty()) {
    size_t e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view() : rest.substr(e + 2);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    req.headers.emplace_back(lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
  }
  if (const std::string* c = req.header("connection"); c != nullptr && lower(*c) == "close") keep_alive = false;

  size_t body_len = 0;
  if (const std::string* cl = req.header("content-length")) {
    auto [ptr, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), body_len);
    if (ec != std::errc() || ptr != cl->data() + cl->size()) {
      send_all(fd, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      return After::close;
    }
  }
  buf.erase(0, end + 4);
  // A client that already started the body is not waiting for the go-ahead.
  if (const std::string* ex = req.header("expect");
      ex != nullptr && lower(*ex) == "100-continue" && body_len > 0 && buf.empty()) {
    if (!send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n")) return After::close;
  }
  while (buf.size() < body_len) {
    if (!read_more(fd, buf)) return After::close;
  }
  req.body = buf.substr(0, body_len);
  buf.erase(0, body_len);

  {
    std::lock_guard lock(mu_);
    requests_.push_back(req);
  }
  Reply reply;
  try {
    reply = handler_(req);
  } catch (const std::exception& e) {
    reply = Reply{};
    reply.status = 500;
    reply.body = std::string("test handler threw: ") + e.what();
  }

  if (reply.delay.count() > 0 && !sleep_unless_stopping(reply.delay)) return After::close;
  if (reply.drop) return After::reset;

  bool head_request = req.method == "HEAD";
  bool no_body = head_request || reply.status == 204 || reply.status == 304 || reply.status < 200;
  std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
  for (const auto& [name, value] : reply.headers) {
    std::string n = lower(name);
    // The real length is written below; a HEAD reply carries the handler's
    // own (the length of the object it describes).
    if (n == "content-length" && !head_request) continue;
    if (n == "connection" && lower(value) == "close") keep_alive = false;
    out += name + ": " + value + "\r\n";
  }
  if (!no_body) out += "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
  if (reply.partial_body) keep_alive = false;
  if (!keep_alive && !reply.partial_body) out += "Connection: close\r\n";
  out += "\r\n";
  if (!no_body) out += reply.partial_body ? reply.body.substr(0, reply.body.size() / 2) : reply.body;
  if (!send_all(fd, out)) return After::close;
  return keep_alive ? After::keep_open : After::close;
}

}  // namespace floe::objstore::testing
