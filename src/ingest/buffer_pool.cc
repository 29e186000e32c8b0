#include "ingest/buffer_pool.h"

#include <utility>

namespace floe::ingest {

std::shared_ptr<BufferPool> BufferPool::create(size_t buffer_bytes, size_t max_kept) {
  return std::shared_ptr<BufferPool>(new BufferPool(buffer_bytes, max_kept));
}

protocol::Bytes BufferPool::take() {
  {
    std::lock_guard lock(mu_);
    if (!kept_.empty()) {
      protocol::Bytes b = std::move(kept_.back());
      kept_.pop_back();
      ++stats_.taken_reused;
      return b;
    }
    ++stats_.taken_new;
  }
  protocol::Bytes b;
  b.reserve(buffer_bytes_);
  return b;
}

std::shared_ptr<const protocol::Bytes> BufferPool::share(protocol::Bytes bytes, bool in_place) {
  if (!in_place && !worth_a_buffer(bytes.size())) {
    auto exact = std::make_shared<const protocol::Bytes>(bytes.begin(), bytes.end());
    give_back(std::move(bytes));
    return exact;
  }
  auto* owned = new protocol::Bytes(std::move(bytes));
  return std::shared_ptr<const protocol::Bytes>(owned, [pool = shared_from_this()](const protocol::Bytes* b) {
    auto* mine = const_cast<protocol::Bytes*>(b);  // allocated non-const above
    pool->give_back(std::move(*mine));
    delete mine;
  });
}

void BufferPool::give_back(protocol::Bytes bytes) {
  if (bytes.capacity() != buffer_bytes_) return;  // grown for an oversized request, or not ours
  bytes.clear();
  std::lock_guard lock(mu_);
  if (kept_.size() < max_kept_) kept_.push_back(std::move(bytes));
}

BufferPool::Stats BufferPool::stats() const {
  std::lock_guard lock(mu_);
  Stats s = stats_;
  s.kept = kept_.size();
  return s;
}

}  // namespace floe::ingest
