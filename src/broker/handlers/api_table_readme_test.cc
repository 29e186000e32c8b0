// The README's table of supported APIs must be the handler list: this test
// reads it and compares, and prints the right table when they differ.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "broker/handlers/api_versions.h"
#include "protocol/generated/api_table.h"

namespace floe::broker {
namespace {

std::string expected_table() {
  std::ostringstream out;
  out << "| API | key | versions |\n| --- | --- | --- |\n";
  for (const auto& a : ApiVersionsHandler::supported_apis()) {
    out << "| " << protocol::find_api(a.api_key)->name << " | " << a.api_key << " | " << a.min_version << "–"
        << a.max_version << " |\n";
  }
  return out.str();
}

TEST(Readme, ApiTableMatchesHandlerList) {
  std::ifstream in(std::string(FLOE_SOURCE_DIR) + "/README.md");
  ASSERT_TRUE(in) << "README.md not found";
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  const std::string begin = "<!-- api-table:begin -->\n";
  const std::string end = "<!-- api-table:end -->";
  auto b = text.find(begin);
  auto e = text.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  std::string table = text.substr(b + begin.size(), e - b - begin.size());
  EXPECT_EQ(table, expected_table()) << "update README.md between the api-table markers to:\n" << expected_table();
}

}  // namespace
}  // namespace floe::broker
