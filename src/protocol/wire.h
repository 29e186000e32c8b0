// Kafka's primitive wire types: big-endian integers, varints, strings, bytes,
// arrays and UUIDs, in both the classic and the "flexible" (compact) forms.
//
// Reader never reads past its end and never trusts a declared length: every
// length is checked against the bytes that remain before anything is
// allocated. Any violation throws DecodeError, which the connection handler
// turns into a closed connection (the request is unparseable, so there is no
// correlation id to answer).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace floe::protocol {

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown when a message cannot be written at the requested version (for
// example a null where that version has no null). Always a bug in the caller.
class EncodeError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

using Bytes = std::vector<uint8_t>;

struct Uuid {
  std::array<uint8_t, 16> bytes{};

  bool is_zero() const;
  std::string to_string() const;  // Kafka's URL-safe base64, no padding
  static std::optional<Uuid> parse(std::string_view s);
  auto operator<=>(const Uuid&) const = default;
};

// A hash of (topic id, partition) for hashed containers. Topic ids are random
// (version 4 UUIDs), so their halves are good hash bits.
size_t hash_partition(const Uuid& topic, int32_t partition) noexcept;

// A topic id's hash, for hashed containers keyed by topic.
struct UuidHash {
  size_t operator()(const Uuid& topic) const noexcept { return hash_partition(topic, 0); }
};

// The value of a `records` field: record batches back to back. Either bytes
// it owns (a decoded request, or what a caller built), or batches that stay
// where they lie in buffers it shares, such as cached objects, each to be
// written with its own base offset; or the owned bytes followed by such
// batches. Encoding copies each batch once, straight into the message: a
// Fetch response of 10,000 partitions no longer copies ~5 MiB of records out
// of the object first (~2 ms and ~5,000 allocations a fetch).
class Records {
 public:
  Records() = default;
  Records(Bytes bytes) : owned_(std::move(bytes)) {}  // NOLINT: implicit, a records value is its bytes

  // Appends `batch`, which lies in `holder`, to be written with its base
  // offset set to `base_offset` (set_base_offset). The batch is not copied;
  // `holder` is kept alive until this value is gone.
  // REQUIRES: batch lies in *holder and holds at least a batch header
  // (throws std::invalid_argument otherwise).
  void append_batch(const std::shared_ptr<const Bytes>& holder, std::span<const uint8_t> batch, int64_t base_offset);

  size_t size() const { return owned_.size() + shared_bytes_; }
  bool empty() const { return size() == 0; }

  // A point to return to (rollback) and forget what was appended since.
  struct Mark {
    size_t owned = 0, batches = 0, holders = 0, shared_bytes = 0;
  };
  Mark mark() const { return {owned_.size(), batches_.size(), holders_.size(), shared_bytes_}; }
  void rollback(const Mark& m);

  // The first batch's bytes as they lie (its base offset not yet written
  // when it is shared); empty when there is none. For its header.
  std::span<const uint8_t> first_bytes() const;
  // The bytes it owns; all of it when nothing is shared.
  const Bytes& owned() const { return owned_; }
  // All of it as bytes it owns, for a caller that takes them over: shared
  // batches (if any) are copied in first, base offsets set.
  Bytes& make_owned();

  // Appends all size() bytes to `out`, base offsets set.
  void append_to(Bytes& out) const;
  // The same, as a new buffer.
  Bytes bytes() const;

  // Equal when their bytes (base offsets set) are.
  bool operator==(const Records& other) const;

 private:
  struct SharedBatch {
    const uint8_t* data;
    size_t size;
    int64_t base_offset;
  };
  Bytes owned_;
  std::vector<SharedBatch> batches_;
  // One entry per run of batches from one buffer: most values hold one.
  std::vector<std::shared_ptr<const Bytes>> holders_;
  size_t shared_bytes_ = 0;
};

// A tagged field that this version of the codec does not know. Kept verbatim
// so that a decode followed by an encode loses nothing.
struct RawTaggedField {
  uint32_t tag = 0;
  Bytes data;
  bool operator==(const RawTaggedField&) const = default;
};
using UnknownTaggedFields = std::vector<RawTaggedField>;

// Senders must write tags in ascending order; a decoder that meets them out of
// order keeps them sorted so that a re-encode is faithful and canonical.
void sort_by_tag(UnknownTaggedFields& fields);

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  explicit Reader(const Bytes& b) : Reader(b.data(), b.size()) {}

  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const uint8_t* position() const { return p_; }
  bool empty() const { return p_ == end_; }

  int8_t read_int8() { return static_cast<int8_t>(take(1)[0]); }
  uint8_t read_uint8() { return take(1)[0]; }
  int16_t read_int16() { return static_cast<int16_t>(read_be<uint16_t>()); }
  uint16_t read_uint16() { return read_be<uint16_t>(); }
  int32_t read_int32() { return static_cast<int32_t>(read_be<uint32_t>()); }
  uint32_t read_uint32() { return read_be<uint32_t>(); }
  int64_t read_int64() { return static_cast<int64_t>(read_be<uint64_t>()); }
  double read_float64();
  bool read_bool() { return read_uint8() != 0; }
  Uuid read_uuid();

  uint32_t read_uvarint();
  uint64_t read_uvarlong();
  int32_t read_varint();   // zig-zag
  int64_t read_varlong();  // zig-zag

  std::string read_string(bool compact);
  std::optional<std::string> read_nullable_string(bool compact);
  Bytes read_bytes(bool compact);
  std::optional<Bytes> read_nullable_bytes(bool compact);
  Records read_records(bool compact) { return Records(read_bytes(compact)); }
  std::optional<Records> read_nullable_records(bool compact);

  // Returns the element count, or -1 for a null array. The count is checked
  // against the remaining bytes assuming each element takes at least
  // min_element_size bytes, so a hostile count cannot cause a huge allocation.
  int32_t read_array_length(bool compact, size_t min_element_size);

  void read_unknown_tagged_fields(UnknownTaggedFields& out);

  // A bounded sub-reader over the next n bytes; this reader skips past them.
  Reader sub_reader(size_t n) {
    const uint8_t* s = take(n);
    return Reader(s, n);
  }
  void skip(size_t n) { take(n); }

  const uint8_t* take(size_t n) {
    if (n > remaining()) {
      throw DecodeError("truncated: need " + std::to_string(n) + " bytes, have " +
                        std::to_string(remaining()));
    }
    const uint8_t* s = p_;
    p_ += n;
    return s;
  }

 private:
  template <typename T>
  T read_be() {
    const uint8_t* s = take(sizeof(T));
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | s[i]);
    return v;
  }
  // Length of a string/bytes field: -1 means null.
  int64_t read_length(bool compact, bool wide);

  const uint8_t* p_;
  const uint8_t* end_;
};

class Writer {
 public:
  explicit Writer(Bytes& out) : out_(out) {}

  size_t size() const { return out_.size(); }
  Bytes& buffer() { return out_; }

  void write_int8(int8_t v) { out_.push_back(static_cast<uint8_t>(v)); }
  void write_uint8(uint8_t v) { out_.push_back(v); }
  void write_int16(int16_t v) { write_be<uint16_t>(static_cast<uint16_t>(v)); }
  void write_uint16(uint16_t v) { write_be<uint16_t>(v); }
  void write_int32(int32_t v) { write_be<uint32_t>(static_cast<uint32_t>(v)); }
  void write_uint32(uint32_t v) { write_be<uint32_t>(v); }
  void write_int64(int64_t v) { write_be<uint64_t>(static_cast<uint64_t>(v)); }
  void write_float64(double v);
  void write_bool(bool v) { out_.push_back(v ? 1 : 0); }
  void write_uuid(const Uuid& u) { write_raw(u.bytes.data(), u.bytes.size()); }

  void write_uvarint(uint32_t v) { write_uvarlong(v); }
  void write_uvarlong(uint64_t v);
  void write_varint(int32_t v) {
    write_uvarint((static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31));
  }
  void write_varlong(int64_t v) {
    write_uvarlong((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }

  void write_string(std::string_view s, bool compact);
  void write_nullable_string(const std::optional<std::string>& s, bool compact);
  void write_bytes(const uint8_t* data, size_t n, bool compact);
  void write_bytes(const Bytes& b, bool compact) { write_bytes(b.data(), b.size(), compact); }
  void write_nullable_bytes(const std::optional<Bytes>& b, bool compact);
  void write_records(const Records& r, bool compact);
  void write_nullable_records(const std::optional<Records>& r, bool compact);
  void write_array_length(size_t n, bool compact);
  void write_null_array(bool compact);

  void write_raw(const void* data, size_t n) {
    const auto* b = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), b, b + n);
  }
  // Overwrites 4 bytes at an earlier position (frame and batch lengths).
  void patch_int32(size_t at, int32_t v);

 private:
  // The length before a bytes or records field's bytes; -1 is null.
  void write_bytes_length(int64_t n, bool compact);
  template <typename T>
  void write_be(T v) {
    uint8_t b[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); ++i) b[i] = static_cast<uint8_t>(v >> (8 * (sizeof(T) - 1 - i)));
    out_.insert(out_.end(), b, b + sizeof(T));
  }

  Bytes& out_;
};

}  // namespace floe::protocol
