#include "protocol/compression.h"

#include <lz4frame.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <limits>
#include <string>

namespace floe::protocol {

namespace {

// Output grows geometrically from here, so a small stream costs a small
// allocation and a large one a logarithmic number of copies.
constexpr size_t kFirstChunk = 64 * 1024;

// Java clients and kafka-python frame snappy blocks as the xerial library
// does: this magic, then a version and a minimum compatible version (int32
// each), then blocks of [int32 big-endian length][raw snappy block].
constexpr std::array<uint8_t, 8> kXerialMagic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t kXerialHeaderSize = kXerialMagic.size() + 8;

// Collects decompressed bytes and refuses to hold more than max_output. The
// writable space it hands out reaches one byte past the limit, so a stream
// that is even one byte too long reveals itself by filling that byte, without
// a separate probe of the decoder.
class BoundedOutput {
 public:
  explicit BoundedOutput(size_t max_output) : max_(max_output) {}

  // Free space just past the committed bytes; never empty.
  std::span<uint8_t> space() {
    if (buf_.size() == used_) grow();
    return {buf_.data() + used_, buf_.size() - used_};
  }

  // Room for exactly n more bytes, for decoders that know their output size
  // up front (snappy).
  uint8_t* extend(size_t n) {
    if (n > max_ - used_) too_large();
    if (buf_.size() < used_ + n) buf_.resize(used_ + n);
    return buf_.data() + used_;
  }

  void commit(size_t n) {
    used_ += n;
    if (used_ > max_) too_large();
  }

  Bytes finish() {
    buf_.resize(used_);
    return std::move(buf_);
  }

 private:
  void grow() {
    // The allowed buffer is max_ + 1 bytes (see above), saturating at SIZE_MAX.
    size_t cap = max_ == std::numeric_limits<size_t>::max() ? max_ : max_ + 1;
    if (used_ >= cap) too_large();
    size_t step = std::max(kFirstChunk, used_);
    buf_.resize(used_ + std::min(step, cap - used_));
  }

  [[noreturn]] void too_large() const {
    throw DecompressedTooLarge("decompressed data exceeds the limit of " + std::to_string(max_) +
                               " bytes");
  }

  size_t max_;
  size_t used_ = 0;
  Bytes buf_;
};

// zlib counts in uInt; feeding it at most this much per call keeps large
// buffers correct without relying on size_t fitting.
constexpr size_t kZlibStep = 1u << 30;

uInt zlib_len(size_t n) { return static_cast<uInt>(std::min(n, kZlibStep)); }

struct InflateGuard {
  z_stream* zs;
  ~InflateGuard() { inflateEnd(zs); }
};

struct DeflateGuard {
  z_stream* zs;
  ~DeflateGuard() { deflateEnd(zs); }
};

Bytes gzip_compress(std::span<const uint8_t> in, std::optional<int> level) {
  int lvl = level.value_or(Z_DEFAULT_COMPRESSION);
  if (level && (*level < 1 || *level > 9)) {
    throw CompressionError("gzip level must be 1-9, got " + std::to_string(*level));
  }
  z_stream zs{};
  // windowBits 15 + 16 asks zlib for the gzip wrapper rather than zlib's own.
  if (deflateInit2(&zs, lvl, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw CompressionError("gzip: cannot initialise zlib");
  }
  DeflateGuard guard{&zs};
  Bytes out(std::max<size_t>(deflateBound(&zs, static_cast<uLong>(in.size())), 64));
  size_t in_pos = 0;
  size_t out_pos = 0;
  for (;;) {
    size_t in_now = std::min(in.size() - in_pos, kZlibStep);
    if (out_pos == out.size()) out.resize(out.size() * 2);
    zs.next_in = const_cast<Bytef*>(in.data() + in_pos);
    zs.avail_in = static_cast<uInt>(in_now);
    zs.next_out = out.data() + out_pos;
    zs.avail_out = zlib_len(out.size() - out_pos);
    uInt out_given = zs.avail_out;
    bool last = in_pos + in_now == in.size();
    int rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
    in_pos += in_now - zs.avail_in;
    out_pos += out_given - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) throw CompressionError("gzip: deflate failed");
  }
  out.resize(out_pos);
  return out;
}

Bytes gzip_decompress(std::span<const uint8_t> in, size_t max_output) {
  if (in.empty()) throw CompressionError("gzip: empty input");
  z_stream zs{};
  // windowBits 15 + 32 accepts both the gzip and the zlib wrapper.
  if (inflateInit2(&zs, 15 + 32) != Z_OK) throw CompressionError("gzip: cannot initialise zlib");
  InflateGuard guard{&zs};
  BoundedOutput out(max_output);
  const uint8_t* p = in.data();
  size_t left = in.size();
  for (;;) {
    auto space = out.space();
    uInt in_given = zlib_len(left);
    uInt out_given = zlib_len(space.size());
    zs.next_in = const_cast<Bytef*>(p);
    zs.avail_in = in_given;
    zs.next_out = space.data();
    zs.avail_out = out_given;
    int rc = inflate(&zs, Z_NO_FLUSH);
    p += in_given - zs.avail_in;
    left -= in_given - zs.avail_in;
    out.commit(out_given - zs.avail_out);
    if (rc == Z_STREAM_END) {
      // Java's GZIPInputStream, which Kafka brokers use, reads concatenated
      // members and ignores whatever else follows the last one; accept the
      // same inputs.
      if (left >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        if (inflateReset(&zs) != Z_OK) throw CompressionError("gzip: cannot reset zlib");
        continue;
      }
      break;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      throw CompressionError(std::string("gzip: ") +
                             (zs.msg != nullptr ? zs.msg : "corrupt stream"));
    }
    // inflate fills all the space it can, so spare space with no input left
    // means the stream stops before its end.
    if (left == 0 && zs.avail_out != 0) throw CompressionError("gzip: truncated stream");
  }
  return out.finish();
}

Bytes snappy_compress(std::span<const uint8_t> in) {
  Bytes out(snappy::MaxCompressedLength(in.size()));
  size_t n = 0;
  snappy::RawCompress(reinterpret_cast<const char*>(in.data()), in.size(),
                      reinterpret_cast<char*>(out.data()), &n);
  out.resize(n);
  return out;
}

void snappy_block_into(const uint8_t* p, size_t n, BoundedOutput& out) {
  const char* src = reinterpret_cast<const char*>(p);
  size_t len = 0;
  if (!snappy::GetUncompressedLength(src, n, &len)) {
    throw CompressionError("snappy: malformed block header");
  }
  uint8_t* dst = out.extend(len);
  if (!snappy::RawUncompress(src, n, reinterpret_cast<char*>(dst))) {
    throw CompressionError("snappy: malformed block");
  }
  out.commit(len);
}

uint32_t load_be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | static_cast<uint32_t>(p[3]);
}

Bytes snappy_decompress(std::span<const uint8_t> in, size_t max_output) {
  BoundedOutput out(max_output);
  bool xerial = in.size() >= kXerialMagic.size() &&
                std::memcmp(in.data(), kXerialMagic.data(), kXerialMagic.size()) == 0;
  if (!xerial) {
    snappy_block_into(in.data(), in.size(), out);
    return out.finish();
  }
  if (in.size() < kXerialHeaderSize) throw CompressionError("snappy: truncated xerial header");
  size_t pos = kXerialHeaderSize;  // version fields carry nothing a reader needs
  while (pos < in.size()) {
    if (in.size() - pos < 4) throw CompressionError("snappy: truncated xerial block length");
    uint32_t len = load_be32(in.data() + pos);
    pos += 4;
    if (len > in.size() - pos) {
      throw CompressionError("snappy: xerial block of " + std::to_string(len) +
                             " bytes exceeds the " + std::to_string(in.size() - pos) + " left");
    }
    snappy_block_into(in.data() + pos, len, out);
    pos += len;
  }
  return out.finish();
}

Bytes lz4_compress(std::span<const uint8_t> in, std::optional<int> level) {
  // Kafka's compression.lz4.level allows 1-17; lz4 treats levels above its
  // maximum (12) as the maximum.
  if (level && (*level < 0 || *level > 17)) {
    throw CompressionError("lz4 level must be 0-17, got " + std::to_string(*level));
  }
  LZ4F_preferences_t prefs{};
  // Independent 64 KiB blocks are what Kafka's Java reader and librdkafka
  // write; old Java consumers cannot read linked blocks.
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.compressionLevel = level.value_or(0);
  Bytes out(LZ4F_compressFrameBound(in.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), in.data(), in.size(), &prefs);
  if (LZ4F_isError(n)) throw CompressionError(std::string("lz4: ") + LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

struct Lz4Guard {
  LZ4F_dctx* ctx = nullptr;
  ~Lz4Guard() { LZ4F_freeDecompressionContext(ctx); }
};

Bytes lz4_decompress(std::span<const uint8_t> in, size_t max_output) {
  if (in.empty()) throw CompressionError("lz4: empty input");
  Lz4Guard guard;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&guard.ctx, LZ4F_VERSION))) {
    throw CompressionError("lz4: cannot create a decompression context");
  }
  BoundedOutput out(max_output);
  const uint8_t* p = in.data();
  size_t left = in.size();
  size_t hint = 1;  // non-zero while a frame is unfinished
  auto step = [&](size_t src_len) {
    auto space = out.space();
    size_t dst_len = space.size();
    hint = LZ4F_decompress(guard.ctx, space.data(), &dst_len, p, &src_len, nullptr);
    if (LZ4F_isError(hint)) throw CompressionError(std::string("lz4: ") + LZ4F_getErrorName(hint));
    p += src_len;
    left -= src_len;
    out.commit(dst_len);
    return src_len + dst_len;
  };
  // A finished frame may be followed by another; the context starts the next
  // one by itself.
  while (left > 0) {
    if (step(left) == 0) throw CompressionError("lz4: decoder made no progress");
  }
  // All input is consumed; the decoder may still hold output it had no room
  // for. If it cannot produce any, the frame was cut short.
  while (hint != 0) {
    if (step(0) == 0) throw CompressionError("lz4: truncated frame");
  }
  return out.finish();
}

Bytes zstd_compress(std::span<const uint8_t> in, std::optional<int> level) {
  int lvl = level.value_or(ZSTD_CLEVEL_DEFAULT);
  if (level && (*level < ZSTD_minCLevel() || *level > ZSTD_maxCLevel())) {
    throw CompressionError("zstd level out of range: " + std::to_string(*level));
  }
  Bytes out(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), lvl);
  if (ZSTD_isError(n)) throw CompressionError(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

struct ZstdGuard {
  ZSTD_DCtx* ctx;
  ~ZstdGuard() { ZSTD_freeDCtx(ctx); }
};

Bytes zstd_decompress(std::span<const uint8_t> in, size_t max_output) {
  if (in.empty()) throw CompressionError("zstd: empty input");
  // Streaming, because frames written by streaming clients need not declare
  // their content size. The window the decoder allocates is capped by zstd's
  // default limit (128 MiB), which frames from any client level stay within.
  ZstdGuard guard{ZSTD_createDCtx()};
  if (guard.ctx == nullptr) throw CompressionError("zstd: cannot create a decompression context");
  BoundedOutput out(max_output);
  ZSTD_inBuffer src{in.data(), in.size(), 0};
  size_t hint = 1;  // non-zero while a frame is unfinished
  auto step = [&] {
    auto space = out.space();
    ZSTD_outBuffer dst{space.data(), space.size(), 0};
    size_t before = src.pos;
    hint = ZSTD_decompressStream(guard.ctx, &dst, &src);
    if (ZSTD_isError(hint)) throw CompressionError(std::string("zstd: ") + ZSTD_getErrorName(hint));
    out.commit(dst.pos);
    return (src.pos - before) + dst.pos;
  };
  while (src.pos < src.size) {
    if (step() == 0) throw CompressionError("zstd: decoder made no progress");
  }
  while (hint != 0) {
    if (step() == 0) throw CompressionError("zstd: truncated frame");
  }
  return out.finish();
}

}  // namespace

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::none:
      return "none";
    case Compression::gzip:
      return "gzip";
    case Compression::snappy:
      return "snappy";
    case Compression::lz4:
      return "lz4";
    case Compression::zstd:
      return "zstd";
  }
  return "unknown";
}

std::optional<Compression> compression_from_id(int id) {
  if (id < 0 || id > static_cast<int>(Compression::zstd)) return std::nullopt;
  return static_cast<Compression>(id);
}

std::optional<Compression> compression_from_name(std::string_view name) {
  for (int id = 0; id <= static_cast<int>(Compression::zstd); ++id) {
    auto c = static_cast<Compression>(id);
    if (compression_name(c) == name) return c;
  }
  return std::nullopt;
}

Bytes compress(Compression c, std::span<const uint8_t> input, std::optional<int> level) {
  switch (c) {
    case Compression::none:
      return Bytes(input.begin(), input.end());
    case Compression::gzip:
      return gzip_compress(input, level);
    case Compression::snappy:
      return snappy_compress(input);
    case Compression::lz4:
      return lz4_compress(input, level);
    case Compression::zstd:
      return zstd_compress(input, level);
  }
  throw CompressionError("unknown compression codec " + std::to_string(static_cast<int>(c)));
}

Bytes decompress(Compression c, std::span<const uint8_t> input, size_t max_output) {
  switch (c) {
    case Compression::none:
      if (input.size() > max_output) {
        throw DecompressedTooLarge("data exceeds the limit of " + std::to_string(max_output) +
                                   " bytes");
      }
      return Bytes(input.begin(), input.end());
    case Compression::gzip:
      return gzip_decompress(input, max_output);
    case Compression::snappy:
      return snappy_decompress(input, max_output);
    case Compression::lz4:
      return lz4_decompress(input, max_output);
    case Compression::zstd:
      return zstd_decompress(input, max_output);
  }
  throw CompressionError("unknown compression codec " + std::to_string(static_cast<int>(c)));
}

}  // namespace floe::protocol
