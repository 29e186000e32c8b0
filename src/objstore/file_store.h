// An object store in a local folder (file://): one file per object, at the
// object's key below the folder.
//
// A put writes a temporary file (".tmp-..." in the object's folder), fsyncs
// it, renames it over the key (create links it to the key instead, which
// fails if the key exists) and fsyncs the folder, so a reader sees the
// whole old object, the whole new one or nothing, and a put that returned
// survives a crash. Temporaries are never listed; those a crash left behind
// are removed when a store is opened on the folder. Each put holds an flock
// on its temporary while it writes, so opening a second store on the same
// folder (several broker processes on one machine) never removes a temporary
// that a live put is writing.
//
// Large objects are written with O_DIRECT, through an aligned buffer,
// when the file system allows it: a WAL object is written once and read
// back from the broker's own cache, so copying it into the page cache only
// costs time (a 5 MiB object took 10-15 ms buffered and 4-6 ms direct on the
// development VM's ext4) and evicts pages that matter. A file system that
// refuses O_DIRECT (tmpfs before Linux 6.6, some network file systems) gets
// ordinary writes, from then on.
//
// Unlike S3, one key cannot be both an object and the folder of another
// ("a" and "a/b"): such a put fails with ErrorKind::other. floe's key scheme
// never does this. Empty folders are left in place when their objects are
// removed (removing them would race with puts creating objects in them).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "objstore/object_store.h"

namespace floe::objstore {

struct FileStoreOptions {
  bool direct_io = true;                          // O_DIRECT for large objects, where allowed
  size_t direct_io_min_bytes = size_t{256} << 10;  // smaller objects are written buffered
};

class FileObjectStore final : public ObjectStore {
 public:
  // Opens the folder `root` (relative to the working folder if relative),
  // creating it if needed, and removes stale temporaries below it. Throws
  // ObjectStoreError: `other` if the folder cannot be created or is not a
  // folder; the kind of the error otherwise.
  explicit FileObjectStore(const std::filesystem::path& root, FileStoreOptions options = {});

  void put(const std::string& key, std::span<const uint8_t> data) override;
  bool create(const std::string& key, std::span<const uint8_t> data) override;
  std::unique_ptr<ObjectWriter> start_put(const std::string& key) override;
  Bytes get(const std::string& key, std::optional<ByteRange> range = std::nullopt) override;
  std::optional<ObjectInfo> head(const std::string& key) override;
  void remove(std::span<const std::string> keys) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  std::string describe() const override { return "file://" + root_.string(); }

  // The absolute folder.
  const std::filesystem::path& root() const { return root_; }

  // How many stale temporaries opening the store removed.
  uint64_t stale_temporaries_removed() const { return stale_temporaries_removed_; }

  // Puts written with O_DIRECT so far, and whether it is still tried (false
  // once the file system has refused it).
  uint64_t direct_writes() const { return direct_writes_.load(std::memory_order_relaxed); }
  bool direct_io_enabled() const { return direct_io_.load(std::memory_order_relaxed); }

 private:
  class Writer;
  struct Pending;  // a locked temporary and the key it is for

  std::string next_temporary_name();
  std::unique_ptr<Pending> new_temporary(const std::string& key);
  [[noreturn]] void put_failed(const std::string& key, int err, const std::string& what);
  bool publish(Pending& pending, uint64_t size, bool exclusive);
  // put (replace) and create (exclusive): false when exclusive and the key exists.
  bool write(const std::string& key, std::span<const uint8_t> data, bool exclusive);

  // Writes `data` to the empty file `fd`, directly when it can.
  void write_data(int fd, std::span<const uint8_t> data, const std::string& what);

  std::filesystem::path root_;
  FileStoreOptions options_;
  std::atomic<bool> direct_io_{true};
  std::atomic<uint64_t> direct_writes_{0};
  uint64_t stale_temporaries_removed_ = 0;
  // Temporary names are ".tmp-<nonce>-<sequence>": the random nonce keeps
  // stores (in this process or others) apart, the sequence keeps this
  // store's concurrent puts apart. O_EXCL makes a collision a retry, never a
  // shared file.
  uint64_t nonce_ = 0;
  std::atomic<uint64_t> sequence_{0};
};

// How a failed system call's errno is reported. ENOENT is not_found; EACCES
// and EPERM denied; EINTR, EAGAIN, EIO, ETIMEDOUT, EMFILE, ENFILE, ENOSPC and
// EDQUOT retriable; anything else other.
//
// ENOSPC and EDQUOT are retriable on purpose: a full disk is not a bug, and it
// clears when retention or garbage collection frees space. The write path
// then fails produce requests with a retriable error (producers back off and
// retry) instead of treating the broker as misconfigured. Callers must back
// off between retries, which they do for every retriable error anyway.
ErrorKind error_kind_of_errno(int err);

}  // namespace floe::objstore
