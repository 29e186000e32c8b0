#include "protocol/compression.h"

#include <gtest/gtest.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <random>
#include <string>

namespace floe::protocol {
namespace {

constexpr Compression kCodecs[] = {Compression::none, Compression::gzip, Compression::snappy,
                                   Compression::lz4, Compression::zstd};
constexpr Compression kRealCodecs[] = {Compression::gzip, Compression::snappy, Compression::lz4,
                                       Compression::zstd};
constexpr size_t kNoLimit = 1 << 30;

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

Bytes text_bytes(size_t n) {
  const std::string unit = "the quick brown fox jumps over the lazy dog; ";
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(unit[i % unit.size()]);
  return b;
}

Bytes concat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

std::string name_of(Compression c) { return std::string(compression_name(c)); }

TEST(Compression, RoundTripsEveryCodecAndSize) {
  for (Compression c : kCodecs) {
    SCOPED_TRACE(name_of(c));
    for (size_t n : {size_t{0}, size_t{1}, size_t{100}, size_t{70000}, size_t{300000}}) {
      for (const Bytes& input : {random_bytes(n, static_cast<uint32_t>(n)), text_bytes(n)}) {
        Bytes packed = compress(c, input);
        EXPECT_EQ(decompress(c, packed, kNoLimit), input) << "size " << n;
        // The exact size is allowed; one byte less is not.
        EXPECT_EQ(decompress(c, packed, input.size()), input);
        if (!input.empty()) {
          EXPECT_THROW((void)decompress(c, packed, input.size() - 1), DecompressedTooLarge) << n;
        }
      }
    }
  }
}

TEST(Compression, CompressesCompressibleData) {
  Bytes input = text_bytes(100000);
  for (Compression c : kRealCodecs)
    EXPECT_LT(compress(c, input).size(), input.size() / 4) << name_of(c);
}

TEST(Compression, LevelsAreHonouredAndChecked) {
  Bytes input = text_bytes(50000);
  EXPECT_EQ(decompress(Compression::gzip, compress(Compression::gzip, input, 1), kNoLimit), input);
  EXPECT_EQ(decompress(Compression::gzip, compress(Compression::gzip, input, 9), kNoLimit), input);
  EXPECT_EQ(decompress(Compression::lz4, compress(Compression::lz4, input, 12), kNoLimit), input);
  EXPECT_EQ(decompress(Compression::lz4, compress(Compression::lz4, input, 17), kNoLimit), input);
  EXPECT_EQ(decompress(Compression::zstd, compress(Compression::zstd, input, 19), kNoLimit), input);
  EXPECT_EQ(decompress(Compression::zstd, compress(Compression::zstd, input, -5), kNoLimit), input);
  EXPECT_THROW((void)compress(Compression::gzip, input, 0), CompressionError);
  EXPECT_THROW((void)compress(Compression::gzip, input, 10), CompressionError);
  EXPECT_THROW((void)compress(Compression::lz4, input, 18), CompressionError);
  EXPECT_THROW((void)compress(Compression::zstd, input, 100), CompressionError);
}

// A small input that inflates to far more than the caller allows must stop at
// the limit, not allocate the whole output first.
TEST(Compression, DecompressionBombsStopAtTheLimit) {
  Bytes zeros(32 << 20, 0);
  for (Compression c : kRealCodecs) {
    SCOPED_TRACE(name_of(c));
    Bytes bomb = compress(c, zeros);
    ASSERT_LT(bomb.size(), zeros.size() / 20);
    EXPECT_THROW((void)decompress(c, bomb, 1 << 20), DecompressedTooLarge);
    EXPECT_THROW((void)decompress(c, bomb, 0), DecompressedTooLarge);
  }
  EXPECT_THROW((void)decompress(Compression::none, zeros, 100), DecompressedTooLarge);
}

TEST(Compression, EveryTruncationIsAnError) {
  Bytes input = text_bytes(3000);
  for (Compression c : kRealCodecs) {
    SCOPED_TRACE(name_of(c));
    Bytes packed = compress(c, input);
    for (size_t n = 0; n < packed.size(); ++n) {
      Bytes prefix(packed.begin(), packed.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_THROW((void)decompress(c, prefix, kNoLimit), CompressionError) << "prefix " << n;
    }
  }
}

TEST(Compression, GarbageIsAnErrorNotACrash) {
  for (Compression c : kRealCodecs) {
    SCOPED_TRACE(name_of(c));
    for (uint32_t seed = 0; seed < 200; ++seed) {
      Bytes junk = random_bytes(seed % 97 + 1, seed);
      try {
        Bytes out = decompress(c, junk, 1 << 16);
        EXPECT_LE(out.size(), size_t{1} << 16);
      } catch (const CompressionError&) {
      }
    }
  }
}

TEST(Compression, CorruptedStreamsNeverCrash) {
  Bytes input = text_bytes(5000);
  std::mt19937 rng(99);
  for (Compression c : kRealCodecs) {
    SCOPED_TRACE(name_of(c));
    Bytes packed = compress(c, input);
    for (int i = 0; i < 300; ++i) {
      Bytes damaged = packed;
      damaged[rng() % damaged.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      try {
        Bytes out = decompress(c, damaged, 1 << 16);
        EXPECT_LE(out.size(), size_t{1} << 16);
      } catch (const CompressionError&) {
      }
    }
  }
}

Bytes be32(uint32_t v) {
  return {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
          static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
}

Bytes raw_snappy(const Bytes& in) {
  std::string out;
  snappy::Compress(reinterpret_cast<const char*>(in.data()), in.size(), &out);
  return Bytes(out.begin(), out.end());
}

// What Java clients and kafka-python write: magic, version, compatible
// version, then length-prefixed raw blocks.
Bytes xerial(const Bytes& in, size_t block) {
  Bytes out = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
  out = concat(out, be32(1));
  out = concat(out, be32(1));
  for (size_t pos = 0; pos < in.size(); pos += block) {
    Bytes piece(in.begin() + static_cast<std::ptrdiff_t>(pos),
                in.begin() + static_cast<std::ptrdiff_t>(std::min(in.size(), pos + block)));
    Bytes packed = raw_snappy(piece);
    out = concat(out, be32(static_cast<uint32_t>(packed.size())));
    out = concat(out, packed);
  }
  return out;
}

TEST(Compression, SnappyReadsXerialFraming) {
  Bytes input = text_bytes(100000);
  Bytes framed = xerial(input, 32 * 1024);
  EXPECT_EQ(decompress(Compression::snappy, framed, kNoLimit), input);
  EXPECT_THROW((void)decompress(Compression::snappy, framed, input.size() - 1),
               DecompressedTooLarge);
  // Header only: no blocks, no data.
  Bytes header(framed.begin(), framed.begin() + 16);
  EXPECT_TRUE(decompress(Compression::snappy, header, kNoLimit).empty());
  // A header cut short, a block length past the end, a damaged block.
  EXPECT_THROW(
      (void)decompress(Compression::snappy, Bytes(framed.begin(), framed.begin() + 12), kNoLimit),
      CompressionError);
  EXPECT_THROW(
      (void)decompress(Compression::snappy, Bytes(framed.begin(), framed.begin() + 18), kNoLimit),
      CompressionError);
  Bytes huge_length = header;
  huge_length = concat(huge_length, be32(0xffffffff));
  EXPECT_THROW((void)decompress(Compression::snappy, huge_length, kNoLimit), CompressionError);
  Bytes cut = framed;
  cut.resize(cut.size() - 3);
  EXPECT_THROW((void)decompress(Compression::snappy, cut, kNoLimit), CompressionError);
}

TEST(Compression, SnappyWritesRawBlocksLikeLibrdkafka) {
  Bytes input = text_bytes(1000);
  EXPECT_EQ(compress(Compression::snappy, input), raw_snappy(input));
}

TEST(Compression, GzipReadsConcatenatedMembersAndIgnoresTrailingBytes) {
  Bytes a = text_bytes(5000);
  Bytes b = random_bytes(3000, 5);
  Bytes both = concat(compress(Compression::gzip, a), compress(Compression::gzip, b));
  EXPECT_EQ(decompress(Compression::gzip, both, kNoLimit), concat(a, b));
  Bytes trailing = concat(compress(Compression::gzip, a), Bytes{0, 0, 0, 0});
  EXPECT_EQ(decompress(Compression::gzip, trailing, kNoLimit), a);
}

TEST(Compression, GzipWritesTheGzipWrapper) {
  Bytes packed = compress(Compression::gzip, text_bytes(100));
  ASSERT_GE(packed.size(), 2u);
  EXPECT_EQ(packed[0], 0x1f);
  EXPECT_EQ(packed[1], 0x8b);
}

TEST(Compression, Lz4AndZstdReadConcatenatedFrames) {
  Bytes a = text_bytes(70000);
  Bytes b = random_bytes(1000, 9);
  for (Compression c : {Compression::lz4, Compression::zstd}) {
    Bytes both = concat(compress(c, a), compress(c, b));
    EXPECT_EQ(decompress(c, both, kNoLimit), concat(a, b)) << name_of(c);
    EXPECT_THROW((void)decompress(c, concat(compress(c, a), Bytes{1, 2, 3}), kNoLimit),
                 CompressionError)
        << name_of(c);
  }
}

// Streaming producers write frames that do not declare their content size.
TEST(Compression, ZstdReadsFramesWithoutContentSize) {
  Bytes input = text_bytes(200000);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  Bytes out(ZSTD_compressBound(input.size()));
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  ZSTD_outBuffer dst{out.data(), out.size(), 0};
  size_t left = ZSTD_compressStream2(cctx, &dst, &in, ZSTD_e_end);
  ZSTD_freeCCtx(cctx);
  ASSERT_EQ(left, 0u);
  out.resize(dst.pos);
  ASSERT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  EXPECT_EQ(decompress(Compression::zstd, out, kNoLimit), input);
  EXPECT_THROW((void)decompress(Compression::zstd, out, 1000), DecompressedTooLarge);
}

TEST(Compression, CodecIdsAndNames) {
  for (Compression c : kCodecs) {
    EXPECT_EQ(compression_from_id(static_cast<int>(c)), c);
    EXPECT_EQ(compression_from_name(compression_name(c)), c);
  }
  for (int id : {-1, 5, 6, 7, 8}) EXPECT_FALSE(compression_from_id(id)) << id;
  EXPECT_FALSE(compression_from_name("producer"));
  EXPECT_FALSE(compression_from_name("GZIP"));
}

}  // namespace
}  // namespace floe::protocol
