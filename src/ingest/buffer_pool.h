// Object-sized buffers used again instead of freed: the WAL writer fills one
// per object, the read path's cache keeps it, and when the cache lets it go
// it comes back here for a later object.
//
// Why: a freed 8 MiB buffer goes back to the kernel, and the next object's
// buffer is fresh memory that faults in and is zeroed page by page, on
// whichever thread copies the first bytes. That was 15-20% of the broker's
// CPU flat out (more when the thread that frees and the one that fills run
// on different cores). A reused buffer's pages are already there.
//
// Thread-safe. Buffers handed out by share() return when their last
// reference is dropped, on that thread, even after the WalWriter is gone
// (the deleter holds the pool).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "protocol/wire.h"

namespace floe::ingest {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  // Keeps at most `max_kept` buffers of `buffer_bytes` capacity.
  static std::shared_ptr<BufferPool> create(size_t buffer_bytes, size_t max_kept);

  // An empty buffer with capacity for buffer_bytes: a kept one when there is
  // one, else a new one.
  protocol::Bytes take();

  // Whether `size` bytes fill enough of a pool buffer to stay in it: a
  // quarter. Moving them out costs a fresh buffer (a page fault per 4 KiB)
  // and a copy, on the way to the upload: at 20 MiB/s and a 250 ms linger,
  // objects are ~5 MiB, and each was copied out of its 8 MiB buffer. A
  // buffer is resident in full, and the read path's cache charges its
  // capacity, not its size; below a quarter, the copy is small and the
  // waste would not be.
  bool worth_a_buffer(size_t size) const { return size >= buffer_bytes_ / 4; }

  // Shares `bytes`. When worth_a_buffer(bytes.size()), or when the bytes may
  // not move (`in_place`: something else still reads them where they are),
  // the buffer comes back to the pool when the last reference goes;
  // otherwise the bytes move to a buffer of their own size and the big one
  // comes back at once.
  std::shared_ptr<const protocol::Bytes> share(protocol::Bytes bytes, bool in_place = false);

  // Takes a buffer back (or frees it: wrong capacity, or the pool is full).
  void give_back(protocol::Bytes bytes);

  struct Stats {
    size_t taken_new = 0;     // take() had to allocate
    size_t taken_reused = 0;  // take() gave a kept buffer
    size_t kept = 0;          // buffers in the pool now
  };
  Stats stats() const;

 private:
  BufferPool(size_t buffer_bytes, size_t max_kept) : buffer_bytes_(buffer_bytes), max_kept_(max_kept) {}

  const size_t buffer_bytes_;
  const size_t max_kept_;
  mutable std::mutex mu_;
  std::vector<protocol::Bytes> kept_;  // GUARDED_BY(mu_)
  Stats stats_;                        // GUARDED_BY(mu_), except `kept`
};

}  // namespace floe::ingest
