#include "objstore/backend_util.h"

#include <algorithm>

namespace floe::objstore {

std::string key_problem(std::string_view key) {
  if (key.empty()) return "is empty";
  if (key.size() > max_key_bytes) return "is longer than " + std::to_string(max_key_bytes) + " bytes";
  if (key.find('\0') != std::string_view::npos) return "contains a NUL byte";
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
