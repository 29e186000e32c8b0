#include "protocol/wire.h"

#include <algorithm>
#include <bit>

#include "protocol/record_batch.h"

namespace floe::protocol {

namespace {
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}
}  // namespace

size_t hash_partition(const Uuid& topic, int32_t partition) noexcept {
  uint64_t lo = 0, hi = 0;
  std::memcpy(&lo, topic.bytes.data(), 8);
  std::memcpy(&hi, topic.bytes.data() + 8, 8);
  uint64_t h = lo ^ (hi * 0x9E3779B97F4A7C15ULL) ^ (uint64_t{static_cast<uint32_t>(partition)} * 0xC2B2AE3D27D4EB4FULL);
  return static_cast<size_t>(h ^ (h >> 31));
}

bool Uuid::is_zero() const {
  for (auto b : bytes)
    if (b != 0) return false;
  return true;
}

std::string Uuid::to_string() const {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64Url[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kBase64Url[(acc << (6 - bits)) & 0x3f]);
  return out;
}

std::optional<Uuid> Uuid::parse(std::string_view s) {
  if (s.size() != 22) return std::nullopt;
  Uuid u;
  uint32_t acc = 0;
  int bits = 0;
  size_t i = 0;
  for (char c : s) {
    int v = base64url_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (i < 16) u.bytes[i++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  // The last character carries 2 padding bits that must be zero for the text
  // to be canonical.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return u;
}

double Reader::read_float64() {
  uint64_t bits = read_be<uint64_t>();
  return std::bit_cast<double>(bits);
}

Uuid Reader::read_uuid() {
  Uuid u;
  std::memcpy(u.bytes.data(), take(16), 16);
  return u;
}

uint64_t Reader::read_uvarlong() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b = read_uint8();
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  throw DecodeError("varlong longer than 10 bytes");
}

uint32_t Reader::read_uvarint() {
  uint32_t v = 0;
  for (int shift = 0; shift < 35; shift += 7) {
    uint8_t b = read_uint8();
    if (shift == 28 && (b & 0xf0) != 0) throw DecodeError("varint overflows 32 bits");
    v |= static_cast<uint32_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v;
  }
  throw DecodeError("varint longer than 5 bytes");
}

int32_t Reader::read_varint() {
  uint32_t z = read_uvarint();
  return static_cast<int32_t>((z >> 1) ^ (~(z & 1) + 1));
}

int64_t Reader::read_varlong() {
  uint64_t z = read_uvarlong();
  return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
}

int64_t Reader::read_length(bool compact, bool wide) {
  int64_t n;
  if (compact) {
    n = static_cast<int64_t>(read_uvarint()) - 1;
  } else {
    n = wide ? read_int32() : read_int16();
  }
  if (n < -1) throw DecodeError("negative length " + std::to_string(n));
  if (n > static_cast<int64_t>(remaining())) {
    throw DecodeError("length " + std::to_string(n) + " exceeds the " + std::to_string(remaining()) +
                      " bytes left");
  }
  return n;
}

std::optional<std::string> Reader::read_nullable_string(bool compact) {
  int64_t n = read_length(compact, false);
  if (n < 0) return std::nullopt;
  const uint8_t* s = take(static_cast<size_t>(n));
  return std::string(reinterpret_cast<const char*>(s), static_cast<size_t>(n));
}

std::string Reader::read_string(bool compact) {
  auto s = read_nullable_string(compact);
  if (!s) throw DecodeError("null in a non-nullable string");
  return std::move(*s);
}

std::optional<Bytes> Reader::read_nullable_bytes(bool compact) {
  int64_t n = read_length(compact, true);
  if (n < 0) return std::nullopt;
  const uint8_t* s = take(static_cast<size_t>(n));
  return Bytes(s, s + n);
}

std::optional<Records> Reader::read_nullable_records(bool compact) {
  auto b = read_nullable_bytes(compact);
  if (!b) return std::nullopt;
  return Records(std::move(*b));
}

Bytes Reader::read_bytes(bool compact) {
  auto b = read_nullable_bytes(compact);
  if (!b) throw DecodeError("null in non-nullable bytes");
  return std::move(*b);
}

int32_t Reader::read_array_length(bool compact, size_t min_element_size) {
  int64_t n = compact ? static_cast<int64_t>(read_uvarint()) - 1 : read_int32();
  if (n < -1) throw DecodeError("negative array length " + std::to_string(n));
  if (n > 0) {
    size_t floor = min_element_size == 0 ? 1 : min_element_size;
    if (static_cast<uint64_t>(n) > remaining() / floor) {
      throw DecodeError("array of " + std::to_string(n) + " elements cannot fit in the " +
                        std::to_string(remaining()) + " bytes left");
    }
  }
  return static_cast<int32_t>(n);
}

void Reader::read_unknown_tagged_fields(UnknownTaggedFields& out) {
  uint32_t count = read_uvarint();
  // Each tagged field takes at least two bytes (tag and size).
  if (count > remaining() / 2) throw DecodeError("too many tagged fields");
  for (uint32_t i = 0; i < count; ++i) {
    RawTaggedField f;
    f.tag = read_uvarint();
    uint32_t size = read_uvarint();
    const uint8_t* s = take(size);
    f.data.assign(s, s + size);
    out.push_back(std::move(f));
  }
  sort_by_tag(out);
}

void sort_by_tag(UnknownTaggedFields& fields) {
  if (fields.size() < 2) return;
  std::stable_sort(fields.begin(), fields.end(),
                   [](const RawTaggedField& a, const RawTaggedField& b) { return a.tag < b.tag; });
}

void Writer::write_float64(double v) { write_be<uint64_t>(std::bit_cast<uint64_t>(v)); }

void Writer::write_uvarlong(uint64_t v) {
  while (v >= 0x80) {
    out_.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out_.push_back(static_cast<uint8_t>(v));
}

void Writer::write_string(std::string_view s, bool compact) {
  if (compact) {
    write_uvarint(static_cast<uint32_t>(s.size() + 1));
  } else {
    if (s.size() > 0x7fff) throw EncodeError("string longer than 32767 bytes");
    write_int16(static_cast<int16_t>(s.size()));
  }
  write_raw(s.data(), s.size());
}

void Writer::write_nullable_string(const std::optional<std::string>& s, bool compact) {
  if (!s) {
    if (compact)
      write_uvarint(0);
    else
      write_int16(-1);
    return;
  }
  write_string(*s, compact);
}

void Writer::write_bytes_length(int64_t n, bool compact) {
  if (compact)
    write_uvarint(static_cast<uint32_t>(n + 1));
  else
    write_int32(static_cast<int32_t>(n));
}

void Writer::write_bytes(const uint8_t* data, size_t n, bool compact) {
  write_bytes_length(static_cast<int64_t>(n), compact);
  write_raw(data, n);
}

void Writer::write_nullable_bytes(const std::optional<Bytes>& b, bool compact) {
  if (!b) {
    write_bytes_length(-1, compact);
    return;
  }
  write_bytes(*b, compact);
}

void Writer::write_records(const Records& r, bool compact) {
  write_bytes_length(static_cast<int64_t>(r.size()), compact);
  r.append_to(out_);
}

void Writer::write_nullable_records(const std::optional<Records>& r, bool compact) {
  if (!r) {
    write_bytes_length(-1, compact);
    return;
  }
  write_records(*r, compact);
}

void Records::append_batch(const std::shared_ptr<const Bytes>& holder, std::span<const uint8_t> batch,
                           int64_t base_offset) {
  if (batch.size() < batch_layout::kHeaderSize) {
    throw std::invalid_argument("a shared record batch is shorter than a batch header");
  }
  if (holders_.empty() || holders_.back() != holder) holders_.push_back(holder);
  batches_.push_back({batch.data(), batch.size(), base_offset});
  shared_bytes_ += batch.size();
}

void Records::rollback(const Mark& m) {
  owned_.resize(m.owned);
  batches_.resize(m.batches);
  holders_.resize(m.holders);
  shared_bytes_ = m.shared_bytes;
}

std::span<const uint8_t> Records::first_bytes() const {
  if (!owned_.empty()) return owned_;
  if (!batches_.empty()) return {batches_.front().data, batches_.front().size};
  return {};
}

void Records::append_to(Bytes& out) const {
  // Appended range by range, not resized and then copied over: a resize would
  // first zero the bytes (and fault the pages in) only to overwrite them.
  out.insert(out.end(), owned_.begin(), owned_.end());
  for (const auto& b : batches_) {
    const size_t at = out.size();
    out.insert(out.end(), b.data, b.data + b.size);
    set_base_offset(std::span(out).subspan(at, b.size), b.base_offset);
  }
}

Bytes& Records::make_owned() {
  if (!batches_.empty()) *this = Records(bytes());
  return owned_;
}

Bytes Records::bytes() const {
  if (batches_.empty()) return owned_;
  Bytes out;
  out.reserve(size());
  append_to(out);
  return out;
}

bool Records::operator==(const Records& other) const {
  if (size() != other.size()) return false;
  if (batches_.empty() && other.batches_.empty()) return owned_ == other.owned_;
  return bytes() == other.bytes();
}

void Writer::write_array_length(size_t n, bool compact) {
  if (compact)
    write_uvarint(static_cast<uint32_t>(n + 1));
  else
    write_int32(static_cast<int32_t>(n));
}

void Writer::write_null_array(bool compact) {
  if (compact)
    write_uvarint(0);
  else
    write_int32(-1);
}

void Writer::patch_int32(size_t at, int32_t v) {
  auto u = static_cast<uint32_t>(v);
  out_[at] = static_cast<uint8_t>(u >> 24);
  out_[at + 1] = static_cast<uint8_t>(u >> 16);
  out_[at + 2] = static_cast<uint8_t>(u >> 8);
  out_[at + 3] = static_cast<uint8_t>(u);
}

}  // namespace floe::protocol
