#include "protocol/crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define FLOE_CRC32C_X86 1
#endif

namespace floe::protocol {

namespace {

// Bit-reversed Castagnoli polynomial 0x1EDC6F41.
constexpr uint32_t kPolynomial = 0x82F63B78;

using SliceTables = std::array<std::array<uint32_t, 256>, 8>;

// tables[k][b] is the CRC of byte b followed by k zero bytes, which lets the
// portable loop fold eight input bytes per step instead of one.
constexpr SliceTables make_tables() {
  SliceTables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    t[0][b] = c;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}

constexpr SliceTables kTables = make_tables();

uint32_t load_le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

}  // namespace

uint32_t crc32c_portable(const uint8_t* data, size_t n, uint32_t crc) {
  uint32_t c = ~crc;
  const uint8_t* p = data;
  while (n >= 8) {
    uint32_t lo = c ^ load_le32(p);
    uint32_t hi = load_le32(p + 4);
    c = kTables[7][lo & 0xff] ^ kTables[6][(lo >> 8) & 0xff] ^ kTables[5][(lo >> 16) & 0xff] ^
        kTables[4][lo >> 24] ^ kTables[3][hi & 0xff] ^ kTables[2][(hi >> 8) & 0xff] ^
        kTables[1][(hi >> 16) & 0xff] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = kTables[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

#if FLOE_CRC32C_X86

// Compiled for SSE4.2 on its own so the rest of the binary keeps the baseline
// instruction set; it is only reached after the CPU said it has SSE4.2.
__attribute__((target("sse4.2"))) uint32_t crc32c_hardware(const uint8_t* data, size_t n,
                                                           uint32_t crc) {
  uint64_t c = static_cast<uint32_t>(~crc);
  const uint8_t* p = data;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, sizeof v);  // unaligned-safe load
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}

bool crc32c_hardware_available() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}

#else

// No accelerated path on this architecture; crc32c() never calls this.
uint32_t crc32c_hardware(const uint8_t* data, size_t n, uint32_t crc) {
  return crc32c_portable(data, n, crc);
}

bool crc32c_hardware_available() { return false; }

#endif

uint32_t crc32c(const uint8_t* data, size_t n, uint32_t crc) {
  static const bool hardware = crc32c_hardware_available();
  return hardware ? crc32c_hardware(data, n, crc) : crc32c_portable(data, n, crc);
}

}  // namespace floe::protocol
