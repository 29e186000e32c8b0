#include "objstore/file_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <set>
#include <system_error>
#include <utility>

#include "common/log.h"
#include "objstore/backend_util.h"

namespace floe::objstore {

namespace fs = std::filesystem;

ErrorKind error_kind_of_errno(int err) {
  switch (err) {
    case ENOENT:
      return ErrorKind::not_found;
    case EACCES:
    case EPERM:
      return ErrorKind::denied;
    case EINTR:
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EIO:
    case ETIMEDOUT:
    case EMFILE:
    case ENFILE:
    case ENOSPC:
    case EDQUOT:
      return ErrorKind::retriable;
    default:
      return ErrorKind::other;
  }
}

namespace {

[[noreturn]] void fail(ErrorKind kind, int err, const std::string& what) {
  throw ObjectStoreError(kind, what + ": " + std::system_category().message(err));
}

[[noreturn]] void fail(int err, const std::string& what) { fail(error_kind_of_errno(err), err, what); }

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    // Deliberately unchecked: every descriptor whose writes matter has been
    // fsynced (and the result checked) before it is closed, and Linux frees
    // the descriptor even when close reports an error.
    if (fd_ >= 0) (void)::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

int64_t mtime_ms(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000;
}

void fsync_or_fail(int fd, const std::string& what) {
  while (::fsync(fd) != 0) {
    if (errno != EINTR) fail(errno, what);
  }
}

// Makes the folder's entries (a rename, a new file or folder, an unlink)
// durable.
void fsync_folder(const fs::path& folder) {
  Fd fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) fail(errno, "open folder " + folder.string() + " to fsync it");
  fsync_or_fail(fd.get(), "fsync folder " + folder.string());
}

void flock_or_fail(int fd, const std::string& what) {
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) fail(errno, what);
  }
}

// Direct I/O moves whole blocks from and to aligned memory. 4096 covers the
// logical block size of every common device (a stricter one makes the first
// write fail with EINVAL, and the store falls back to buffered writes).
constexpr size_t kDirectAlign = 4096;
constexpr size_t kDirectChunk = size_t{1} << 20;

// An aligned buffer per thread, for the copies direct writes go through
// (objects come from ordinary heap memory, which is not block-aligned).
uint8_t* direct_buffer() {
  struct Freer {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  thread_local std::unique_ptr<uint8_t, Freer> buffer(static_cast<uint8_t*>(std::aligned_alloc(kDirectAlign, kDirectChunk)));
  if (!buffer) throw std::bad_alloc();
  return buffer.get();
}

enum class DirectWrite { done, refused };

// Writes `data` at `offset` (a multiple of kDirectAlign) of `fd`, which is
// open with O_DIRECT. Whole blocks go straight from `data` when it is
// aligned, through the aligned buffer a chunk at a time when it is not; a
// partial last block is padded with zeros (the caller cuts the file back).
// `refused` when the very first write of the file (offset 0) is refused with
// EINVAL: the file system or device does not take these writes, and nothing
// was written.
DirectWrite write_direct_at(int fd, std::span<const uint8_t> data, uint64_t offset, const std::string& what) {
  auto write_from = [&](const uint8_t* from, size_t n, uint64_t at) {
    for (size_t done = 0; done < n;) {
      ssize_t w = ::pwrite(fd, from + done, n - done, static_cast<off_t>(at + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL && at == 0 && done == 0) return false;
        fail(errno, what);
      }
      done += static_cast<size_t>(w);
    }
    return true;
  };
  const size_t whole = data.size() / kDirectAlign * kDirectAlign;
  size_t written = 0;
  if (reinterpret_cast<uintptr_t>(data.data()) % kDirectAlign == 0 && whole > 0) {
    if (!write_from(data.data(), whole, offset)) return DirectWrite::refused;
    written = whole;
  }
  uint8_t* buffer = direct_buffer();
  while (written < data.size()) {
    const size_t n = std::min<uint64_t>(kDirectChunk, data.size() - written);
    const size_t padded = (n + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    std::memcpy(buffer, data.data() + written, n);
    std::memset(buffer + n, 0, padded - n);
    if (!write_from(buffer, padded, offset + written)) return DirectWrite::refused;
    written += n;
  }
  return DirectWrite::done;
}

// Cuts the padding of a direct write off the end of the file.
void cut_to(int fd, uint64_t size, const std::string& what) {
  while (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) fail(errno, what + " (cutting the padding)");
  }
}

// Turns O_DIRECT on for `fd`; false when the file system refuses it.
bool direct_on(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
}

void direct_off(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_DIRECT);
}

// Writes `data` from the start of the empty file `fd` with O_DIRECT and
// cuts the padding; `refused` when the file system does not take direct I/O
// (the file is then left empty, O_DIRECT off).
DirectWrite write_direct(int fd, std::span<const uint8_t> data, const std::string& what) {
  if (!direct_on(fd)) return DirectWrite::refused;
  if (write_direct_at(fd, data, 0, what) == DirectWrite::refused) {
    direct_off(fd);
    return DirectWrite::refused;
  }
  if (data.size() % kDirectAlign != 0) cut_to(fd, data.size(), what);
  return DirectWrite::done;
}

void pwrite_all(int fd, std::span<const uint8_t> data, uint64_t offset, const std::string& what) {
  while (!data.empty()) {
    ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno, what);
    }
    data = data.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
}

// Fills `out` from `offset`; false if the file ends first.
bool pread_all(int fd, std::span<uint8_t> out, uint64_t offset, const std::string& what) {
  while (!out.empty()) {
    ssize_t n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno, what);
    }
    if (n == 0) return false;
    out = out.subspan(static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

// Creates the folders of `rel` ("a/b") below `base` that do not exist, then fsyncs
// the parent of each folder on the path, so every folder entry is durable.
// Folders that already existed are synced too: another put may have just
// created one and not yet synced its parent, and this put must not return
// before the entry is durable. This runs only when a put finds its folder
// missing, so the extra fsyncs are rare.
void make_folders(const fs::path& base, const fs::path& rel) {
  fs::path folder = base;
  std::vector<fs::path> parents;
  for (const fs::path& segment : rel) {
    parents.push_back(folder);
    folder /= segment;
    if (::mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
      int err = errno;
      // ENOENT here means the store's folder itself is gone: not "no such
      // object" but a broken installation.
      fail(err == ENOENT ? ErrorKind::other : error_kind_of_errno(err), err, "create folder " + folder.string());
    }
  }
  for (const fs::path& parent : parents) fsync_folder(parent);
}

struct CloseDir {
  // Deliberately unchecked: a directory stream is only read.
  void operator()(DIR* dir) const { (void)::closedir(dir); }
};
using DirPtr = std::unique_ptr<DIR, CloseDir>;

// Visits the tree below the open folder `folder` (whose entries' keys start
// with `rel`, "" or ending in '/'): calls on_file(folder_fd, rel, name) for
// each entry that is not a folder, and recurses into each folder whose
// key prefix (rel + name + "/") `descend` accepts. Entries removed while the
// walk runs are skipped.
template <typename Descend, typename OnFile>
void walk(Fd folder, const std::string& rel, const Descend& descend, const OnFile& on_file) {
  int fd = folder.get();
  DirPtr dir(::fdopendir(fd));
  if (!dir) fail(errno, "read folder '" + rel + "'");
  folder.release();  // closedir closes it now
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      if (errno != 0) fail(errno, "read folder '" + rel + "'");
      return;
    }
    std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    bool is_folder = entry->d_type == DT_DIR;
    if (entry->d_type == DT_UNKNOWN) {
      struct stat st;
      if (::fstatat(fd, entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        fail(errno, "stat '" + rel + std::string(name) + "'");
      }
      is_folder = S_ISDIR(st.st_mode);
    }
    if (!is_folder) {
      on_file(fd, rel, entry->d_name);
      continue;
    }
    std::string child = rel + std::string(name) + "/";
    if (!descend(child)) continue;
    Fd child_fd(::openat(fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!child_fd.valid()) {
      if (errno == ENOENT) continue;
      fail(errno, "open folder '" + child + "'");
    }
    walk(std::move(child_fd), child, descend, on_file);
  }
}

Fd open_folder(const fs::path& folder) {
  Fd fd(::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) fail(errno, "open folder " + folder.string());
  return fd;
}

// Removes the temporary `name` if no live put holds its lock. A put locks its
// temporary right after creating it and keeps the lock until it has renamed
// or unlinked it; the lock dies with the process, so an unlocked temporary is
// stale. The inode check makes sure the name still refers to the file that
// was locked (a put may have renamed it in between).
bool remove_if_stale(int folder_fd, const char* name) {
  Fd fd(::openat(folder_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return false;
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return false;
  struct stat locked;
  struct stat named;
  if (::fstat(fd.get(), &locked) != 0) return false;
  if (::fstatat(folder_fd, name, &named, AT_SYMLINK_NOFOLLOW) != 0) return false;
  if (locked.st_dev != named.st_dev || locked.st_ino != named.st_ino) return false;
  return ::unlinkat(folder_fd, name, 0) == 0;
}

// A temporary file being written by a put, locked while this object lives.
// Unless it was renamed into place, it is unlinked before the lock goes.
class Temporary {
 public:
  Temporary(fs::path path, Fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
  Temporary(const Temporary&) = delete;
  Temporary& operator=(const Temporary&) = delete;
  ~Temporary() {
    // Deliberately unchecked: a temporary that cannot be unlinked now is
    // removed when a store is next opened on the folder.
    if (!renamed_) (void)::unlink(path_.c_str());
  }

  int fd() const { return fd_.get(); }
  const fs::path& path() const { return path_; }
  void mark_renamed() { renamed_ = true; }

 private:
  fs::path path_;
  Fd fd_;
  bool renamed_ = false;
};

}  // namespace

struct FileObjectStore::Pending {
  Pending(std::string k, fs::path t, fs::path temporary_path, Fd fd)
      : key(std::move(k)), target(std::move(t)), temporary(std::move(temporary_path), std::move(fd)) {}
  std::string key;
  fs::path target;
  Temporary temporary;
};

FileObjectStore::FileObjectStore(const fs::path& root, FileStoreOptions options)
    : options_(options), direct_io_(options.direct_io) {
  std::error_code ec;
  root_ = fs::absolute(root, ec).lexically_normal();
  if (ec) fail(ErrorKind::other, ec.value(), "resolve folder " + root.string());
  if (!root_.has_filename() && root_.has_relative_path()) root_ = root_.parent_path();  // "a/b/" -> "a/b"

  std::vector<fs::path> missing;
  for (fs::path p = root_; p.has_relative_path() && !fs::exists(p, ec); p = p.parent_path()) {
    missing.push_back(p);
  }
  fs::create_directories(root_, ec);
  if (ec) fail(ErrorKind::other, ec.value(), "create folder " + root_.string());
  if (!fs::is_directory(root_, ec)) {
    throw ObjectStoreError(ErrorKind::other, "object store folder " + root_.string() + " is not a folder");
  }
  for (const fs::path& folder : missing) fsync_folder(folder.parent_path());

  std::random_device random;
  nonce_ = (static_cast<uint64_t>(random()) << 32) ^ random();

  walk(
      open_folder(root_), "", [](const std::string&) { return true; },
      [&](int folder_fd, const std::string&, const char* name) {
        if (std::string_view(name).starts_with(temporary_prefix) && remove_if_stale(folder_fd, name)) {
          ++stale_temporaries_removed_;
        }
      });
  if (stale_temporaries_removed_ > 0) {
    FLOE_LOG(info, "objstore") << "removed " << stale_temporaries_removed_ << " temporary files left by "
                               << "interrupted puts in " << describe();
  }
}

std::string FileObjectStore::next_temporary_name() {
  static constexpr char hex[] = "0123456789abcdef";
  auto append_hex = [](std::string& out, uint64_t v) {
    for (int shift = 60; shift >= 0; shift -= 4) out += hex[(v >> shift) & 0xf];
  };
  std::string name(temporary_prefix);
  append_hex(name, nonce_);
  name += '-';
  append_hex(name, sequence_.fetch_add(1, std::memory_order_relaxed));
  return name;
}

void FileObjectStore::put(const std::string& key, std::span<const uint8_t> data) {
  write(key, data, /*exclusive=*/false);
}

bool FileObjectStore::create(const std::string& key, std::span<const uint8_t> data) {
  return write(key, data, /*exclusive=*/true);
}

// Creates and locks a fresh temporary in the folder of `key` (`target`),
// making the folders first if they are missing.
std::unique_ptr<FileObjectStore::Pending> FileObjectStore::new_temporary(const std::string& key) {
  const fs::path target = root_ / key;
  const fs::path folder = target.parent_path();
  bool made_folders = false;
  // A few attempts cover the two rare reasons to start over: a name
  // collision (O_EXCL) and a temporary removed by another process's
  // open-time cleanup between our create and our lock.
  for (int attempt = 0; attempt < 8; ++attempt) {
    fs::path temporary_path = folder / next_temporary_name();
    Fd fd(::open(temporary_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) {
      if (errno == EEXIST) continue;
      if (errno == ENOENT && !made_folders && key.find('/') != std::string::npos) {
        make_folders(root_, key.substr(0, key.rfind('/')));
        made_folders = true;
        continue;
      }
      put_failed(key, errno, "create " + temporary_path.string());
    }
    auto pending = std::make_unique<Pending>(key, target, std::move(temporary_path), std::move(fd));
    flock_or_fail(pending->temporary.fd(), "lock " + pending->temporary.path().string());
    struct stat st;
    if (::fstat(pending->temporary.fd(), &st) != 0) put_failed(key, errno, "stat " + pending->temporary.path().string());
    if (st.st_nlink == 0) continue;  // removed as stale before we locked it
    return pending;
  }
  throw ObjectStoreError(ErrorKind::retriable,
                         "put '" + key + "': could not create a temporary file in " + folder.string());
}

// ENOENT while writing means the store's folder vanished, not "no such
// object"; ENOTDIR and EISDIR mean the key collides with a folder.
void FileObjectStore::put_failed(const std::string& key, int err, const std::string& what) {
  fail(err == ENOENT ? ErrorKind::other : error_kind_of_errno(err), err, "put '" + key + "': " + what);
}

// Makes the written temporary the object: fsync, then link (exclusive) or
// rename it to the key, and fsync the folder. False when exclusive and the
// key exists.
bool FileObjectStore::publish(Pending& pending, uint64_t size, bool exclusive) {
  Temporary& temporary = pending.temporary;
  const fs::path& target = pending.target;
  fsync_or_fail(temporary.fd(), "fsync " + temporary.path().string());
  if (exclusive) {
    // link() fails if the key exists, where rename() would replace it.
    // The temporary's destructor unlinks the temporary name either way.
    if (::link(temporary.path().c_str(), target.c_str()) != 0) {
      if (errno == EEXIST) {
        struct stat existing;
        if (::stat(target.c_str(), &existing) == 0 && S_ISDIR(existing.st_mode)) {
          put_failed(pending.key, EISDIR, "create " + target.string() + ": the key is a folder of other objects");
        }
        return false;
      }
      put_failed(pending.key, errno, "link " + temporary.path().string() + " to " + target.string());
    }
  } else {
    if (::rename(temporary.path().c_str(), target.c_str()) != 0) {
      put_failed(pending.key, errno, "rename " + temporary.path().string() + " to " + target.string());
    }
    temporary.mark_renamed();
  }
  fsync_folder(target.parent_path());
  counters_.put.bytes.fetch_add(size, std::memory_order_relaxed);
  return true;
}

bool FileObjectStore::write(const std::string& key, std::span<const uint8_t> data, bool exclusive) {
  return counted(counters_.put, [&] {
    validate_key(key);
    auto pending = new_temporary(key);
    write_data(pending->temporary.fd(), data, "write " + pending->temporary.path().string());
    return publish(*pending, data.size(), exclusive);
  });
}

// A put whose bytes are written as they arrive (ObjectWriter): whole blocks
// with O_DIRECT straight away, the last partial block and the publishing at
// finish(). Small objects (below direct_io_min_bytes when they end), and
// file systems without direct I/O, are written the ordinary way.
class FileObjectStore::Writer final : public ObjectWriter {
 public:
  Writer(FileObjectStore& store, std::string key) : store_(store), key_(std::move(key)) {}

  void write(std::span<const uint8_t> object) override {
    check(object);
    // Only whole blocks before the end, and only once there is enough to be
    // sure the object is worth direct I/O.
    if (object.size() < store_.options_.direct_io_min_bytes || !store_.direct_io_.load(std::memory_order_relaxed)) return;
    const uint64_t upto = object.size() / kDirectAlign * kDirectAlign;
    if (upto <= written_) return;
    if (!pending_) pending_ = store_.new_temporary(key_);
    const int fd = pending_->temporary.fd();
    const std::string what = "write " + pending_->temporary.path().string();
    if (written_ == 0 && !direct_on(fd)) return refused(fd);
    auto part = object.subspan(written_, upto - written_);
    if (write_direct_at(fd, part, written_, what) == DirectWrite::refused) return refused(fd);
    written_ = upto;
  }

  void finish(std::span<const uint8_t> object) override {
    check(object);
    if (finished_) throw std::logic_error("ObjectWriter::finish called twice");
    finished_ = true;
    counted(store_.counters_.put, [&] {
      if (!pending_) {
        // Nothing written yet: the ordinary put's way.
        pending_ = store_.new_temporary(key_);
        store_.write_data(pending_->temporary.fd(), object, "write " + pending_->temporary.path().string());
      } else {
        const int fd = pending_->temporary.fd();
        const std::string what = "write " + pending_->temporary.path().string();
        auto rest = object.subspan(written_);
        if (written_ > 0) {
          (void)write_direct_at(fd, rest, written_, what);  // offset > 0: never refused
          if (object.size() % kDirectAlign != 0) cut_to(fd, object.size(), what);
          store_.direct_writes_.fetch_add(1, std::memory_order_relaxed);
        } else {
          pwrite_all(fd, rest, 0, what);
        }
      }
      written_ = object.size();
      store_.publish(*pending_, object.size(), /*exclusive=*/false);
    });
  }

 private:
  // Each call's bytes must extend the last call's.
  void check(std::span<const uint8_t> object) const {
    if (object.size() < written_) throw std::logic_error("ObjectWriter: the object shrank");
  }

  void refused(int fd) {
    direct_off(fd);
    if (store_.direct_io_.exchange(false)) {
      FLOE_LOG(info, "objstore") << store_.describe() << ": the file system refuses direct I/O; writing through the page cache";
    }
  }

  FileObjectStore& store_;
  std::string key_;
  std::unique_ptr<Pending> pending_;  // the temporary, once the first bytes are written
  uint64_t written_ = 0;              // bytes of the object in the temporary
  bool finished_ = false;
};

std::unique_ptr<ObjectWriter> FileObjectStore::start_put(const std::string& key) {
  validate_key(key);
  return std::make_unique<Writer>(*this, key);
}

void FileObjectStore::write_data(int fd, std::span<const uint8_t> data, const std::string& what) {
  if (data.size() >= options_.direct_io_min_bytes && direct_io_.load(std::memory_order_relaxed)) {
    if (write_direct(fd, data, what) == DirectWrite::done) {
      direct_writes_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (direct_io_.exchange(false)) {
      FLOE_LOG(info, "objstore") << describe() << ": the file system refuses direct I/O; writing through the page cache";
    }
  }
  pwrite_all(fd, data, 0, what);
}

Bytes FileObjectStore::get(const std::string& key, std::optional<ByteRange> range) {
  return counted(counters_.get, [&] {
    validate_key(key);
    const fs::path path = root_ / key;
    auto not_found = [&] { return ObjectStoreError(ErrorKind::not_found, "no object '" + key + "' in " + describe()); };
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
      if (errno == ENOENT || errno == ENOTDIR) throw not_found();  // ENOTDIR: a folder segment is an object
      fail(errno, "get '" + key + "': open " + path.string());
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) fail(errno, "get '" + key + "': stat " + path.string());
    if (!S_ISREG(st.st_mode)) throw not_found();  // a folder of other objects
    Slice slice = resolve_range(key, static_cast<uint64_t>(st.st_size), range);
    Bytes out(slice.length);
    // Objects are replaced by rename, never changed in place, so the open
    // file keeps its size; a short read means someone else truncated it.
    if (!pread_all(fd.get(), out, slice.offset, "get '" + key + "': read " + path.string())) {
      throw ObjectStoreError(ErrorKind::other,
                             "get '" + key + "': " + path.string() + " was truncated while being read");
    }
    counters_.get.bytes.fetch_add(out.size(), std::memory_order_relaxed);
    return out;
  });
}

std::optional<ObjectInfo> FileObjectStore::head(const std::string& key) {
  return counted(counters_.head, [&]() -> std::optional<ObjectInfo> {
    validate_key(key);
    const fs::path path = root_ / key;
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
      fail(errno, "head '" + key + "': stat " + path.string());
    }
    if (!S_ISREG(st.st_mode)) return std::nullopt;  // a folder of other objects
    return ObjectInfo{key, static_cast<uint64_t>(st.st_size), mtime_ms(st)};
  });
}

void FileObjectStore::remove(std::span<const std::string> keys) {
  counted(counters_.remove, [&] {
    // All keys are checked first so an invalid one removes nothing.
    for (const std::string& key : keys) validate_key(key);
    std::set<fs::path> touched;
    for (const std::string& key : keys) {
      const fs::path path = root_ / key;
      if (::unlink(path.c_str()) == 0) {
        touched.insert(path.parent_path());
        continue;
      }
      // Missing, or not an object: a folder (EISDIR), or below an object (ENOTDIR).
      if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) continue;
      fail(errno, "remove '" + key + "': unlink " + path.string());
    }
    for (const fs::path& folder : touched) fsync_folder(folder);
  });
}

std::vector<ObjectInfo> FileObjectStore::list(const std::string& prefix) {
  return counted(counters_.list, [&] {
    std::vector<ObjectInfo> out;
    // Only folders that can hold matching keys are read.
    auto descend = [&](const std::string& folder_key) {
      return folder_key.starts_with(prefix) || prefix.starts_with(folder_key);
    };
    walk(open_folder(root_), "", descend, [&](int folder_fd, const std::string& rel, const char* name) {
      std::string key = rel + name;
      if (!key.starts_with(prefix)) return;
      // Temporaries, and anything else no put could have made, are not objects.
      if (!key_problem(key).empty()) return;
      struct stat st;
      if (::fstatat(folder_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) return;  // removed while we list
        fail(errno, "list: stat '" + key + "'");
      }
      if (!S_ISREG(st.st_mode)) return;  // not something put made
      out.push_back({std::move(key), static_cast<uint64_t>(st.st_size), mtime_ms(st)});
    });
    std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  });
}

}  // namespace floe::objstore
