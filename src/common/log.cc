#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace floe {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 'a' + 'A');
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 'a' + 'A');
    if (x != y) return false;
  }
  return true;
}

void write_stderr(std::string_view line) {
  std::string buf;
  buf.reserve(line.size() + 1);
  buf.append(line);
  buf.push_back('\n');
  const char* p = buf.data();
  size_t left = buf.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // Nowhere left to report a failing stderr.
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

// The process-wide logger state; see the header for why it exists at all.
struct LoggerState {
  std::atomic<int> level{static_cast<int>(LogLevel::info)};
  std::mutex mu;
  log::Sink sink;  // GUARDED_BY(mu); empty means stderr
};

LoggerState& state() {
  // Never destroyed: threads that outlive main() may still log.
  static LoggerState* s = new LoggerState;
  return *s;
}

}  // namespace

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::trace: return "TRACE";
    case LogLevel::debug: return "DEBUG";
    case LogLevel::info: return "INFO";
    case LogLevel::warn: return "WARN";
    case LogLevel::error: return "ERROR";
  }
  return "?";
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
  for (LogLevel l : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                     LogLevel::error}) {
    if (iequals(name, to_string(l))) return l;
  }
  if (iequals(name, "WARNING")) return LogLevel::warn;
  return std::nullopt;
}

namespace log {

void set_level(LogLevel level) {
  state().level.store(static_cast<int>(level), std::memory_order_relaxed);
}

LogLevel level() {
  return static_cast<LogLevel>(state().level.load(std::memory_order_relaxed));
}

bool enabled(LogLevel l) {
  return static_cast<int>(l) >= state().level.load(std::memory_order_relaxed);
}

Sink set_sink(Sink sink) {
  LoggerState& s = state();
  std::lock_guard lock(s.mu);
  Sink old = std::move(s.sink);
  s.sink = std::move(sink);
  return old;
}

std::string format_line(int64_t unix_millis, LogLevel level, std::string_view component,
                        std::string_view message) {
  // Floor division so times before 1970 still print a valid millisecond field.
  int64_t secs = unix_millis / 1000;
  int64_t ms = unix_millis % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", static_cast<int>(ms));

  std::string line;
  line.reserve(48 + component.size() + message.size());
  line.append(stamp);
  line.push_back(' ');
  std::string_view name = to_string(level);
  line.append(name);
  line.append(6 - name.size(), ' ');  // aligns messages: longest level name is 5
  line.push_back('[');
  line.append(component);
  line.append("] ");
  for (char c : message) {
    if (c == '\n') {
      line.append("\\n");
    } else if (c == '\r') {
      line.append("\\r");
    } else {
      line.push_back(c);
    }
  }
  return line;
}

void write(LogLevel level, std::string_view component, std::string_view message) {
  if (!enabled(level)) return;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::string line = format_line(now, level, component, message);
  LoggerState& s = state();
  std::lock_guard lock(s.mu);
  if (s.sink) {
    s.sink(line);
  } else {
    write_stderr(line);
  }
}

}  // namespace log
}  // namespace floe
