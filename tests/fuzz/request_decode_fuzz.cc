// libFuzzer target: decoding of arbitrary bytes as any request or response of
// any API at any version, as the broker does with what a client sends.
//
// Input: byte 0 picks request or response, bytes 1-2 the API key, bytes 3-4
// the version (folded into the valid range so most inputs hit real schemas);
// the rest is the message. A successful decode must survive encode -> decode
// -> encode with the same bytes; anything else must be a DecodeError, never a crash, an
// out-of-bounds read (ASan) or undefined behaviour (UBSan).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/generated/api_table.h"

namespace {

using namespace floe::protocol;

template <typename T>
void check(const uint8_t* data, size_t size, int16_t version, bool with_header, int16_t api_key) {
  Reader r(data, size);
  T msg;
  try {
    if (with_header) {
      RequestHeader header;
      header.decode(r, request_header_version(api_key, version));
    }
    msg.decode(r, version);
  } catch (const DecodeError&) {
    return;
  }
  // Compared as bytes, not with ==, because a float64 may be NaN.
  Bytes encoded;
  Writer w(encoded);
  msg.encode(w, version);
  Reader again(encoded);
  T back;
  back.decode(again, version);
  Bytes reencoded;
  Writer w2(reencoded);
  back.encode(w2, version);
  if (reencoded != encoded || !again.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const bool response = data[0] & 1;
  const auto apis = all_apis();
  const ApiInfo& api = apis[((data[1] << 8) | data[2]) % apis.size()];
  const int span = api.max_version - api.min_version + 1;
  const auto version = static_cast<int16_t>(api.min_version + ((data[3] << 8) | data[4]) % span);
  data += 5;
  size -= 5;
  visit_api(api.key, [&](auto req, auto resp) {
    if (response) {
      check<typename decltype(resp)::type>(data, size, version, false, api.key);
    } else {
      check<typename decltype(req)::type>(data, size, version, true, api.key);
    }
  });
  return 0;
}
