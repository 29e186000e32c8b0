// A small leveled logger: one line per message on stderr,
//
//   2024-05-01T12:34:56.789Z INFO  [net] listening on 127.0.0.1:9092
//
// Usage:
//
//   FLOE_LOG(info, "net") << "listening on " << addr;
//
// The stream expression after FLOE_LOG is not evaluated at all when the level
// is disabled, so a debug line with an expensive argument costs one relaxed
// atomic load in production.
//
// The level and the sink are process-wide. That is the one accepted exception
// to "no global mutable state": every module logs, threading a logger through
// every constructor buys nothing, and a process has exactly one stderr. The
// state is kept to one atomic (the level) and one mutex-protected sink, so
// logging from any thread is safe and each line is written whole.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace floe {

enum class LogLevel : int { trace = 0, debug = 1, info = 2, warn = 3, error = 4 };

// "TRACE", "DEBUG", "INFO", "WARN", "ERROR".
std::string_view to_string(LogLevel level);

// Accepts the names above in any case (log4j / Kafka style), and "WARNING" as
// a synonym for WARN. Anything else is nullopt.
std::optional<LogLevel> parse_log_level(std::string_view name);

namespace log {

void set_level(LogLevel level);
LogLevel level();
bool enabled(LogLevel level);

// Receives each formatted line, without the trailing newline. The default
// sink writes the line plus '\n' to stderr in one write(2). Calls to the sink
// are serialised by the logger's mutex, so a sink need not be thread-safe.
using Sink = std::function<void(std::string_view line)>;

// Replaces the sink (tests capture lines this way); an empty Sink restores
// stderr. Returns the previous sink.
Sink set_sink(Sink sink);

// Formats and emits one line if `level` is enabled. Newlines and carriage
// returns in `message` are written as the two characters "\n" / "\r", so one
// call is always one line (a client-supplied string cannot forge log lines).
void write(LogLevel level, std::string_view component, std::string_view message);

// The formatting of a line, exposed for tests: `unix_millis` is the time in
// milliseconds since the epoch (UTC).
std::string format_line(int64_t unix_millis, LogLevel level, std::string_view component,
                        std::string_view message);

// One message under construction; emitted when the temporary is destroyed at
// the end of the FLOE_LOG full-expression.
class Line {
 public:
  Line(LogLevel level, std::string_view component) : level_(level), component_(component) {}
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;
  ~Line() { write(level_, component_, out_.view()); }

  template <typename T>
  Line& operator<<(const T& value) {
    out_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::string_view component_;
  std::ostringstream out_;
};

// Turns `Line << ...` into void so that both branches of the conditional in
// FLOE_LOG have the same type. `&` binds more loosely than `<<`.
struct Voidify {
  void operator&(const Line&) const {}
};

}  // namespace log
}  // namespace floe

// FLOE_LOG(level, component) << ...; where level is one of trace, debug,
// info, warn, error. Written as a conditional expression (not an `if`) so the
// macro is safe inside an unbraced if/else.
#define FLOE_LOG(lvl, component)                                    \
  !::floe::log::enabled(::floe::LogLevel::lvl)                     \
      ? (void)0                                                     \
      : ::floe::log::Voidify() & ::floe::log::Line(::floe::LogLevel::lvl, (component))
