#include "objstore/object_store.h"

#include <algorithm>
#include <cctype>

#include "objstore/file_store.h"
#include "objstore/memory_store.h"

namespace floe::objstore {

std::unique_ptr<ObjectStore> open_object_store(const std::string& url) {
  size_t separator = url.find("://");
  if (separator == std::string::npos || separator == 0) {
    // The URL is not echoed: a malformed S3 URL may carry credentials.
    throw ObjectStoreError(ErrorKind::other,
                           "object store URL has no scheme (expected file://PATH, memory:// or s3://)");
  }
  std::string scheme = url.substr(0, separator);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string rest = url.substr(separator + 3);

  if (scheme == "file") {
    if (rest.empty()) throw ObjectStoreError(ErrorKind::other, "file:// object store URL has no path");
    return std::make_unique<FileObjectStore>(rest);
  }
  if (scheme == "memory") return std::make_unique<MemoryObjectStore>();
  if (scheme == "s3") throw ObjectStoreError(ErrorKind::other, "s3:// object stores are not supported yet");
  bool printable = std::all_of(scheme.begin(), scheme.end(),
                               [](unsigned char c) { return std::isalnum(c) || c == '+' || c == '-' || c == '.'; });
  throw ObjectStoreError(ErrorKind::other, "unsupported object store URL scheme '" +
                                               (printable ? scheme : std::string("?")) +
                                               "://' (expected file://, memory:// or s3://)");
}

}  // namespace floe::objstore
