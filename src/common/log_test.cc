#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace floe {
namespace {

// Captures log lines and restores the process-wide level and sink afterwards,
// so tests do not leak settings into each other.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_level_ = log::level();
    saved_sink_ = log::set_sink([this](std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    log::set_sink(std::move(saved_sink_));
    log::set_level(saved_level_);
  }

  std::vector<std::string> lines_;  // written only under the logger's mutex

 private:
  LogLevel saved_level_ = LogLevel::info;
  log::Sink saved_sink_;
};

TEST(LogLevelTest, ParsesNamesInAnyCase) {
  EXPECT_EQ(parse_log_level("TRACE"), LogLevel::trace);
  EXPECT_EQ(parse_log_level("debug"), LogLevel::debug);
  EXPECT_EQ(parse_log_level("Info"), LogLevel::info);
  EXPECT_EQ(parse_log_level("WARN"), LogLevel::warn);
  EXPECT_EQ(parse_log_level("warning"), LogLevel::warn);
  EXPECT_EQ(parse_log_level("error"), LogLevel::error);
  EXPECT_EQ(parse_log_level(""), std::nullopt);
  EXPECT_EQ(parse_log_level("verbose"), std::nullopt);
  EXPECT_EQ(parse_log_level("INFO "), std::nullopt);
}

TEST(LogLevelTest, NamesRoundTrip) {
  for (LogLevel l : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn,
                     LogLevel::error}) {
    EXPECT_EQ(parse_log_level(to_string(l)), l);
  }
}

TEST(LogFormatTest, LineHasUtcTimeWithMillisLevelComponentAndMessage) {
  EXPECT_EQ(log::format_line(0, LogLevel::info, "net", "hello"),
            "1970-01-01T00:00:00.000Z INFO  [net] hello");
  EXPECT_EQ(log::format_line(1234567890123, LogLevel::error, "broker", "x"),
            "2009-02-13T23:31:30.123Z ERROR [broker] x");
  EXPECT_EQ(log::format_line(-1, LogLevel::warn, "c", ""), "1969-12-31T23:59:59.999Z WARN  [c] ");
}

TEST(LogFormatTest, NewlinesInMessageAreEscaped) {
  EXPECT_EQ(log::format_line(0, LogLevel::debug, "c", "a\nb\r\nc"),
            "1970-01-01T00:00:00.000Z DEBUG [c] a\\nb\\r\\nc");
}

TEST_F(LogTest, WritesEnabledLevelsOnly) {
  log::set_level(LogLevel::warn);
  EXPECT_FALSE(log::enabled(LogLevel::info));
  EXPECT_TRUE(log::enabled(LogLevel::warn));
  EXPECT_TRUE(log::enabled(LogLevel::error));

  FLOE_LOG(info, "test") << "dropped";
  FLOE_LOG(warn, "test") << "kept " << 42;
  FLOE_LOG(error, "other") << "also kept";

  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_NE(lines_[0].find(" WARN  [test] kept 42"), std::string::npos) << lines_[0];
  EXPECT_NE(lines_[1].find(" ERROR [other] also kept"), std::string::npos) << lines_[1];
}

TEST_F(LogTest, DisabledMessageIsNotEvaluated) {
  log::set_level(LogLevel::info);
  int evaluations = 0;
  auto expensive = [&] {
    ++evaluations;
    return std::string("value");
  };
  FLOE_LOG(debug, "test") << expensive();
  EXPECT_EQ(evaluations, 0);
  EXPECT_TRUE(lines_.empty());
  FLOE_LOG(info, "test") << expensive();
  EXPECT_EQ(evaluations, 1);
  ASSERT_EQ(lines_.size(), 1u);
}

TEST_F(LogTest, TraceLevelLetsEverythingThrough) {
  log::set_level(LogLevel::trace);
  FLOE_LOG(trace, "t") << "a";
  FLOE_LOG(debug, "t") << "b";
  FLOE_LOG(info, "t") << "c";
  EXPECT_EQ(lines_.size(), 3u);
}

TEST_F(LogTest, MacroIsSafeInUnbracedIfElse) {
  log::set_level(LogLevel::info);
  bool took_else = false;
  for (bool condition : {true, false}) {
    if (condition)
      FLOE_LOG(info, "test") << "then";
    else
      took_else = true;
  }
  EXPECT_TRUE(took_else);
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find("then"), std::string::npos);
}

TEST_F(LogTest, ConcurrentWritersProduceWholeLines) {
  log::set_level(LogLevel::info);
  constexpr int kThreads = 8;
  constexpr int kLines = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kLines; ++i) FLOE_LOG(info, "worker") << "thread " << t << " line " << i;
    });
  }
  for (std::thread& th : threads) th.join();

  ASSERT_EQ(lines_.size(), static_cast<size_t>(kThreads * kLines));
  std::vector<int> next(kThreads, 0);
  for (const std::string& line : lines_) {
    int t = -1, i = -1;
    size_t pos = line.find("[worker] ");
    ASSERT_NE(pos, std::string::npos) << line;
    ASSERT_EQ(std::sscanf(line.c_str() + pos, "[worker] thread %d line %d", &t, &i), 2) << line;
    ASSERT_GE(t, 0);
    ASSERT_LT(t, kThreads);
    EXPECT_EQ(i, next[t]++) << "lines of one thread stay in order";
  }
}

TEST(LogStderrTest, DefaultSinkWritesOneLinePerMessageToStderr) {
  char path[] = "/tmp/floe_log_test_XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  int saved_stderr = dup(STDERR_FILENO);
  ASSERT_GE(saved_stderr, 0);
  ASSERT_GE(dup2(fd, STDERR_FILENO), 0);

  LogLevel saved_level = log::level();
  log::Sink saved_sink = log::set_sink(nullptr);
  log::set_level(LogLevel::info);
  FLOE_LOG(info, "stderr") << "first";
  FLOE_LOG(warn, "stderr") << "second";
  log::set_sink(std::move(saved_sink));
  log::set_level(saved_level);

  dup2(saved_stderr, STDERR_FILENO);
  close(saved_stderr);
  close(fd);

  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  std::remove(path);

  std::vector<std::string> lines;
  std::string line;
  while (std::getline(content, line)) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u) << content.str();
  EXPECT_NE(lines[0].find("Z INFO  [stderr] first"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("Z WARN  [stderr] second"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[0].size(), std::string("1970-01-01T00:00:00.000Z INFO  [stderr] first").size());
}

}  // namespace
}  // namespace floe
