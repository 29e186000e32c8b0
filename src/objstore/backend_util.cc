#include "objstore/backend_util.h"

#include <algorithm>

namespace floe::objstore {

namespace {

// Well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF): S3 lists keys in XML, which cannot carry anything else.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // cut short
    for (size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t min_for_length[] = {0, 0x80, 0x800, 0x10000};
    if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace

std::string key_problem(std::string_view key) {
  if (key.empty()) return "is empty";
  if (key.size() > max_key_bytes) return "is longer than " + std::to_string(max_key_bytes) + " bytes";
  if (key.find('\0') != std::string_view::npos) return "contains a NUL byte";
  for (char c : key) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "contains a control character";
  }
  if (!valid_utf8(key)) return "is not valid UTF-8";
  if (key.front() == '/') return "is absolute";
  size_t start = 0;
  while (true) {
    size_t end = key.find('/', start);
    std::string_view segment = key.substr(start, end == std::string_view::npos ? key.npos : end - start);
    if (segment.empty()) return "has an empty segment";
    if (segment == "." || segment == "..") return "has a '" + std::string(segment) + "' segment";
    if (segment.size() > max_segment_bytes) {
      return "has a segment longer than " + std::to_string(max_segment_bytes) + " bytes";
    }
    if (segment.starts_with(temporary_prefix)) {
      return "has a segment starting with '" + std::string(temporary_prefix) + "' (reserved)";
    }
    if (end == std::string_view::npos) return {};
    start = end + 1;
  }
}

namespace {

// A key shown in an error message: never unbounded, NUL bytes made visible.
std::string printable(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 128)) {
    if (c == '\0') {
      out += "\\0";
    } else {
      out += c;
    }
  }
  if (key.size() > 128) out += "...";
  return out;
}

}  // namespace

void validate_key(const std::string& key) {
  std::string problem = key_problem(key);
  if (!problem.empty()) {
    throw ObjectStoreError(ErrorKind::other, "invalid object key '" + printable(key) + "': " + problem);
  }
}

Slice resolve_range(const std::string& key, uint64_t size, std::optional<ByteRange> range) {
  if (!range) return {0, size};
  if (range->length == 0) {
    throw ObjectStoreError(ErrorKind::other, "empty byte range requested from '" + key + "'");
  }
  if (range->offset >= size) {
    throw ObjectStoreError(ErrorKind::other, "byte range at offset " + std::to_string(range->offset) +
                                                 " starts past the end of '" + key + "' (" + std::to_string(size) +
                                                 " bytes)");
  }
  return {range->offset, std::min(range->length, size - range->offset)};
}

}  // namespace floe::objstore
