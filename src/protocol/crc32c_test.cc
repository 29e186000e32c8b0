#include "protocol/crc32c.h"

#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string_view>
#include <vector>

namespace floe::protocol {
namespace {

using CrcFn = std::function<uint32_t(const uint8_t*, size_t, uint32_t)>;

struct Impl {
  const char* name;
  CrcFn fn;
};

// Every test runs against each implementation this machine can execute, so
// the portable path is covered even where crc32c() would pick the hardware.
std::vector<Impl> implementations() {
  std::vector<Impl> out{{"portable", crc32c_portable},
                        {"dispatching", [](auto p, auto n, auto c) { return crc32c(p, n, c); }}};
  if (crc32c_hardware_available()) out.push_back({"sse4.2", crc32c_hardware});
  return out;
}

std::vector<uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

TEST(Crc32c, PublishedCheckValues) {
  std::vector<uint8_t> zeros(32, 0x00);
  std::vector<uint8_t> ones(32, 0xff);
  std::vector<uint8_t> ascending(32);
  std::vector<uint8_t> descending(32);
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<uint8_t>(i);
    descending[i] = static_cast<uint8_t>(31 - i);
  }
  auto check = bytes_of("123456789");
  for (const Impl& impl : implementations()) {
    SCOPED_TRACE(impl.name);
    EXPECT_EQ(impl.fn(check.data(), check.size(), 0), 0xE3069283u);
    // RFC 3720 (iSCSI), appendix B.4.
    EXPECT_EQ(impl.fn(zeros.data(), zeros.size(), 0), 0x8A9136AAu);
    EXPECT_EQ(impl.fn(ones.data(), ones.size(), 0), 0x62A8AB43u);
    EXPECT_EQ(impl.fn(ascending.data(), ascending.size(), 0), 0x46DD794Eu);
    EXPECT_EQ(impl.fn(descending.data(), descending.size(), 0), 0x113FDB5Cu);
    EXPECT_EQ(impl.fn(nullptr, 0, 0), 0u);
  }
}

TEST(Crc32c, IncrementalEqualsOneShot) {
  std::mt19937 rng(12345);
  std::vector<uint8_t> data(4099);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  for (const Impl& impl : implementations()) {
    SCOPED_TRACE(impl.name);
    uint32_t whole = impl.fn(data.data(), data.size(), 0);
    for (size_t split = 0; split <= data.size(); split += 37) {
      uint32_t first = impl.fn(data.data(), split, 0);
      EXPECT_EQ(impl.fn(data.data() + split, data.size() - split, first), whole)
          << "split " << split;
    }
    // Many small pieces, including empty ones.
    uint32_t crc = 0;
    size_t pos = 0;
    while (pos < data.size()) {
      size_t n = std::min<size_t>(rng() % 20, data.size() - pos);
      crc = impl.fn(data.data() + pos, n, crc);
      pos += n;
    }
    EXPECT_EQ(crc, whole);
  }
}

TEST(Crc32c, ImplementationsAgreeAtEveryAlignmentAndLength) {
  std::mt19937 rng(777);
  std::vector<uint8_t> data(600);
  for (auto& b : data) b = static_cast<uint8_t>(rng());
  auto impls = implementations();
  for (size_t offset = 0; offset < 16; ++offset) {
    for (size_t n = 0; n + offset <= data.size(); n += 7) {
      uint32_t expected = crc32c_portable(data.data() + offset, n, 0x1234567);
      for (const Impl& impl : impls) {
        ASSERT_EQ(impl.fn(data.data() + offset, n, 0x1234567), expected)
            << impl.name << " offset " << offset << " length " << n;
      }
    }
  }
}

TEST(Crc32c, SpanOverload) {
  auto check = bytes_of("123456789");
  EXPECT_EQ(crc32c(std::span<const uint8_t>(check)), 0xE3069283u);
}

}  // namespace
}  // namespace floe::protocol
